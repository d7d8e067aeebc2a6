"""Prometheus metrics: LLM calls by outcome, tokens, latencies, the reply cache, replies.

With several gunicorn workers, ``chatdesk serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
folder it empties at start, and ``/metrics`` adds up every worker's numbers.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)

LLM_CALLS = Counter("chatdesk_llm_calls_total", "LLM calls by outcome (ok, or the failure kind).",
                    ["outcome"])
LLM_TOKENS = Counter("chatdesk_llm_tokens_total", "Tokens sent to and received from the LLM.", ["kind"])
LLM_LATENCY = Histogram("chatdesk_llm_latency_seconds", "Whole LLM calls.", buckets=LATENCY_BUCKETS)
LLM_FIRST_TOKEN = Histogram("chatdesk_llm_time_to_first_token_seconds",
                            "From an LLM call to its first text.", buckets=LATENCY_BUCKETS)
REPLY_CACHE = Counter("chatdesk_reply_cache_total", "Reply cache look-ups.", ["result"])
REPLIES = Counter("chatdesk_replies_total", "Replies by how they were made.", ["answered_by"])
REPLY_LATENCY = Histogram("chatdesk_reply_seconds", "From storing a message to its stored reply.",
                          buckets=LATENCY_BUCKETS)


class PrometheusTelemetry:
    """The engine's telemetry, as Prometheus metrics."""

    def llm_call(self, outcome: str, *, latency: float | None = None, first_token: float | None = None,
                 prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        LLM_CALLS.labels(outcome).inc()
        if latency is not None:
            LLM_LATENCY.observe(latency)
        if first_token is not None:
            LLM_FIRST_TOKEN.observe(first_token)
        if prompt_tokens:
            LLM_TOKENS.labels("prompt").inc(prompt_tokens)
        if completion_tokens:
            LLM_TOKENS.labels("completion").inc(completion_tokens)

    def reply_cache(self, hit: bool) -> None:
        REPLY_CACHE.labels("hit" if hit else "miss").inc()


def record_reply(answered_by: str | None, seconds: float) -> None:
    REPLIES.labels(answered_by or "handoff").inc()
    REPLY_LATENCY.observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics page: every worker's numbers when running under several workers."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST

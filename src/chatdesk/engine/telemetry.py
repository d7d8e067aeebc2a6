"""What the pipeline reports as it works; the services layer turns it into metrics."""

from __future__ import annotations

from typing import Protocol


class Telemetry(Protocol):
    def llm_call(self, outcome: str, *, latency: float | None = None, first_token: float | None = None,
                 prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        """One LLM call: ``ok`` or the failure kind (timeout, rate_limited, ungrounded, ...)."""

    def reply_cache(self, hit: bool) -> None: ...


class NoTelemetry:
    def llm_call(self, outcome: str, *, latency: float | None = None, first_token: float | None = None,
                 prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        return None

    def reply_cache(self, hit: bool) -> None:
        return None

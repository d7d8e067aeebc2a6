"""Back-off delays and which failures are retried."""

from __future__ import annotations

import pytest

from chatdesk.llm import (
    CircuitOpen,
    LLMAuthError,
    LLMBadRequest,
    LLMConnectionError,
    LLMEmptyResponse,
    LLMError,
    LLMMalformedResponse,
    LLMRateLimited,
    LLMServerError,
    LLMTimeout,
    RetryPolicy,
    UngroundedAnswer,
)


def test_delays_double_up_to_the_cap_with_jitter_at_its_top() -> None:
    policy = RetryPolicy(max_retries=6, base_delay=0.5, max_delay=4.0, random=lambda: 0.999999)
    assert [round(policy.delay(n), 3) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_jitter_keeps_each_delay_between_half_and_all_of_the_backoff() -> None:
    low = RetryPolicy(base_delay=1.0, max_delay=10.0, random=lambda: 0.0)
    assert [low.delay(n) for n in range(3)] == [0.5, 1.0, 2.0]
    real = RetryPolicy(base_delay=1.0, max_delay=10.0)
    delays = [real.delay(2) for _ in range(200)]
    assert all(2.0 <= d < 4.0 for d in delays) and len(set(delays)) > 100


def test_a_servers_retry_after_wins_when_longer_but_never_beyond_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, random=lambda: 0.0)
    assert policy.delay(0, retry_after=3.0) == 3.0
    assert policy.delay(0, retry_after=0.1) == 0.25
    assert policy.delay(0, retry_after=120.0) == 8.0


@pytest.mark.parametrize(("error", "retryable"), [
    (LLMTimeout("t"), True), (LLMConnectionError("c"), True), (LLMRateLimited("r"), True),
    (LLMServerError("s"), True), (LLMBadRequest("b"), False), (LLMAuthError("a"), False),
    (LLMMalformedResponse("m"), False), (LLMEmptyResponse("e"), False), (CircuitOpen("o"), False),
    (UngroundedAnswer("u", reason="no_citation", text="x"), False),
])
def test_only_transient_failures_are_retried_and_only_while_retries_remain(error: LLMError,
                                                                          retryable: bool) -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.should_retry(error, 0) is retryable
    assert policy.should_retry(error, 2) is False


def test_every_failure_maps_to_a_bad_gateway_problem_with_its_kind() -> None:
    error = LLMRateLimited("slow down", status_code=429, retry_after=2.0)
    assert error.status == 502 and error.kind.value == "rate_limited"
    assert error.detail == "slow down" and error.retry_after == 2.0
    assert CircuitOpen("paused").status == 503
    assert "rate_limited" in repr(error)

"""The circuit breaker: alone on a fake clock, then in a provider against the fake server."""

from __future__ import annotations

import threading
import time

import pytest

from chatdesk.llm import (
    BreakerState,
    ChatMessage,
    CircuitBreaker,
    CircuitOpen,
    FailureKind,
    LLMBadRequest,
    LLMConnectionError,
    LLMServerError,
)
from tests.fakes.openai_server import FakeOpenAIServer, ScriptedReply
from tests.unit.llm.conftest import MakeProvider

QUESTION: list[ChatMessage] = [{"role": "user", "content": "Where is my parcel?"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, cooldown=10.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert breaker.acquire() is False
        breaker.record_failure()


def test_it_opens_after_the_threshold_of_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED and breaker.consecutive_failures == 2
    fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN and breaker.times_opened == 1
    with pytest.raises(CircuitOpen) as caught:
        breaker.acquire()
    assert caught.value.kind is FailureKind.CIRCUIT_OPEN
    assert caught.value.retry_after == pytest.approx(10.0)


def test_a_success_resets_the_count_of_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.record_success()
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED


def test_after_the_cooldown_one_probe_goes_through_and_its_success_closes_it(
        breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 9.9
    with pytest.raises(CircuitOpen):
        breaker.acquire()
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN

    assert breaker.acquire() is True  # the probe
    with pytest.raises(CircuitOpen):
        breaker.acquire()  # only one probe at a time
    breaker.record_success()

    assert breaker.state is BreakerState.CLOSED and breaker.acquire() is False


def test_a_failed_probe_opens_it_for_another_cooldown(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 10
    assert breaker.acquire() is True
    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN and breaker.times_opened == 2
    clock.now += 5
    with pytest.raises(CircuitOpen):
        breaker.acquire()
    clock.now += 5
    assert breaker.acquire() is True


def test_a_released_probe_lets_another_caller_probe(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 10
    assert breaker.acquire() is True
    breaker.release()
    assert breaker.acquire() is True


def test_only_one_of_many_threads_gets_the_probe(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 10
    probes: list[bool] = []
    rejected: list[CircuitOpen] = []

    def call() -> None:
        try:
            probes.append(breaker.acquire())
        except CircuitOpen as error:
            rejected.append(error)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert probes == [True] and len(rejected) == 7


# -- in a provider, against the fake server -------------------------------------------------------------

def test_an_open_circuit_rejects_calls_without_a_request_then_a_probe_closes_it(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer) -> None:
    provider = make_provider(max_retries=0, breaker_failures=3, breaker_cooldown=0.3)
    fake_openai.queue(*[ScriptedReply.error(500)] * 3)
    for _ in range(3):
        with pytest.raises(LLMServerError):
            provider.complete(QUESTION)
    assert provider.breaker.state is BreakerState.OPEN

    started = time.monotonic()
    with pytest.raises(CircuitOpen):
        provider.complete(QUESTION)
    with pytest.raises(CircuitOpen):
        provider.stream(QUESTION)
    assert time.monotonic() - started < 0.1  # no connection attempted, let alone a timeout
    assert len(fake_openai.requests) == 3  # nothing reached the server while open

    time.sleep(0.35)
    assert provider.breaker.state is BreakerState.HALF_OPEN
    fake_openai.queue(ScriptedReply("Back again."))
    assert provider.complete(QUESTION).text == "Back again."
    assert provider.breaker.state is BreakerState.CLOSED
    assert provider.complete(QUESTION).text  # and calls flow again
    assert len(fake_openai.requests) == 5


def test_the_probe_is_a_single_attempt_and_its_failure_reopens_the_circuit(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer) -> None:
    provider = make_provider(max_retries=2, breaker_failures=1, breaker_cooldown=0.2)
    fake_openai.queue(*[ScriptedReply.error(503)] * 4)
    with pytest.raises(LLMServerError):
        provider.complete(QUESTION)  # three attempts, one failed call: open
    assert len(fake_openai.requests) == 3 and provider.breaker.state is BreakerState.OPEN

    time.sleep(0.25)
    with pytest.raises(LLMServerError):
        provider.complete(QUESTION)  # the probe: not retried
    assert len(fake_openai.requests) == 4
    with pytest.raises(CircuitOpen):
        provider.complete(QUESTION)


def test_a_streamed_probe_closes_the_circuit(make_provider: MakeProvider,
                                             fake_openai: FakeOpenAIServer) -> None:
    provider = make_provider(max_retries=0, breaker_failures=1, breaker_cooldown=0.2)
    fake_openai.queue(ScriptedReply.drop(after=0), ScriptedReply(chunks=["Fine ", "now."]))
    with pytest.raises(LLMConnectionError):
        provider.stream(QUESTION)
    time.sleep(0.25)

    assert "".join(provider.stream(QUESTION).text()) == "Fine now."
    assert provider.breaker.state is BreakerState.CLOSED


def test_client_errors_do_not_open_the_circuit(make_provider: MakeProvider,
                                               fake_openai: FakeOpenAIServer) -> None:
    provider = make_provider(breaker_failures=2)
    fake_openai.queue(*[ScriptedReply.error(400)] * 4)
    for _ in range(4):
        with pytest.raises(LLMBadRequest):
            provider.complete(QUESTION)
    assert provider.breaker.state is BreakerState.CLOSED
    assert len(fake_openai.requests) == 4

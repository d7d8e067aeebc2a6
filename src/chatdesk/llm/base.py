"""The one interface every LLM adapter offers, with retries, the circuit breaker, timing and
usage accounting done here once; an adapter only sends a request and reads the answer.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import ClassVar

import structlog

from chatdesk.llm.breaker import CircuitBreaker
from chatdesk.llm.config import LLMConfig
from chatdesk.llm.errors import (
    LLMConnectionError,
    LLMEmptyResponse,
    LLMError,
    LLMMalformedResponse,
    LLMTimeout,
)
from chatdesk.llm.retry import RetryPolicy
from chatdesk.llm.tokens import TokenCounter, count_messages, default_counter
from chatdesk.llm.types import (
    CallOptions,
    ChatMessage,
    Completion,
    RawCompletion,
    StreamChunk,
    StreamDone,
    StreamEvent,
    TextDelta,
)

log = structlog.get_logger(__name__)

RetryHook = Callable[[LLMError, float], None]
#: A retry is not started unless at least this much of the deadline would be left for it.
MIN_ATTEMPT_SECONDS = 0.05


class Provider(ABC):
    """A chat model behind retries and a circuit breaker. Thread-safe; one per process is enough.

    ``sleep`` and ``clock`` are injectable for tests; the defaults are the ``time`` functions,
    which gevent patches, so back-off waits yield to other greenlets.
    """

    name: ClassVar[str] = "base"

    def __init__(self, config: LLMConfig, *, counter: TokenCounter | None = None,
                 retry: RetryPolicy | None = None, breaker: CircuitBreaker | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 on_retry: RetryHook | None = None) -> None:
        self.config = config
        self.counter = counter or default_counter()
        self.retry = retry or RetryPolicy(config.max_retries, config.backoff_base, config.backoff_max)
        self.breaker = breaker or CircuitBreaker(config.breaker_failures, config.breaker_cooldown, clock)
        self._sleep = sleep
        self._clock = clock
        self._on_retry = on_retry

    # -- what an adapter implements ------------------------------------------------------------

    @property
    @abstractmethod
    def model(self) -> str:
        """The model (or deployment) requests name."""

    @abstractmethod
    def _complete_once(self, messages: Sequence[ChatMessage], options: CallOptions) -> RawCompletion:
        """One request, no retries; raises an :class:`LLMError` for every failure."""

    @abstractmethod
    def _stream_once(self, messages: Sequence[ChatMessage],
                     options: CallOptions) -> Generator[StreamChunk, None, None]:
        """One streaming request, no retries; closing the generator releases the connection."""

    @abstractmethod
    def list_models(self) -> list[str]:
        """The endpoint's model ids (one request, no retries): a cheap check that it is reachable."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    # -- what callers use ----------------------------------------------------------------------

    def complete(self, messages: Sequence[ChatMessage], *, temperature: float | None = None,
                 max_tokens: int | None = None, deadline: float | None = None) -> Completion:
        """The whole answer at once. Raises an :class:`LLMError` subclass on any failure.

        ``deadline`` (a ``clock()`` time) bounds the call, retries included: each attempt gets
        what is left, and no retry starts that could not finish in time.
        """
        probe = self.breaker.acquire()
        started = self._clock()
        retries = 0
        try:
            while True:
                try:
                    options = self._options(temperature, max_tokens, deadline)
                    raw = self._complete_once(messages, options)
                    text = _checked_text(raw.text)
                    break
                except LLMError as error:
                    delay = None if probe else self._retry_delay(error, retries, deadline)
                    if delay is None:
                        raise
                    self._back_off(error, retries, delay)
                    retries += 1
        except LLMError as error:
            self._judge(error)
            raise
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.record_success()
        return self._completion(messages, text, raw.model, raw.finish_reason, raw.usage,
                                started=started, ttft=None, retries=retries)

    def stream(self, messages: Sequence[ChatMessage], *, temperature: float | None = None,
               max_tokens: int | None = None, deadline: float | None = None) -> CompletionStream:
        """The answer piece by piece.

        Returns once the first piece of text has arrived, so every failure before the answer
        starts (circuit open, refused, timed out, 429/5xx after retries, empty, malformed)
        is raised here and the caller can still fall back cleanly. Failures after that are
        raised while iterating. Retries happen only before any text was given out. ``deadline``
        bounds the wait for the first text, as in :meth:`complete`.
        """
        probe = self.breaker.acquire()
        timing = _Timing(self._clock())
        events = self._stream_events(messages, (temperature, max_tokens, deadline), probe, timing)
        return CompletionStream(events, timing)

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- the shared machinery ------------------------------------------------------------------

    def _options(self, temperature: float | None, max_tokens: int | None,
                 deadline: float | None = None) -> CallOptions:
        timeout = None
        if deadline is not None:
            timeout = deadline - self._clock()
            if timeout <= 0:
                raise LLMTimeout("No time was left for the LLM call.")
            timeout = min(timeout, self.config.timeout)
        return CallOptions(
            temperature=self.config.temperature if temperature is None else temperature,
            max_tokens=self.config.max_tokens if max_tokens is None else max_tokens,
            timeout=timeout)

    def _retry_delay(self, error: LLMError, retries_done: int, deadline: float | None) -> float | None:
        """How long to wait before retrying, or None if this failure is final."""
        if not self.retry.should_retry(error, retries_done):
            return None
        delay = self.retry.delay(retries_done, error.retry_after)
        if deadline is not None and self._clock() + delay >= deadline - MIN_ATTEMPT_SECONDS:
            return None  # no time left for a meaningful attempt
        return delay

    def _stream_events(self, messages: Sequence[ChatMessage],
                       call: tuple[float | None, int | None, float | None], probe: bool,
                       timing: _Timing) -> Generator[StreamEvent, None, None]:
        temperature, max_tokens, deadline = call
        started = timing.started
        retries = 0
        answer = _StreamedAnswer()
        judged = False
        try:
            while True:
                answer = _StreamedAnswer()
                try:
                    options = self._options(temperature, max_tokens, deadline)
                    chunks = self._stream_once(messages, options)
                    try:
                        for chunk in chunks:
                            piece = answer.add(chunk)
                            if piece:
                                if timing.first_token is None:
                                    timing.first_token = self._clock() - started
                                yield TextDelta(piece)
                    finally:
                        chunks.close()
                    text = answer.finished_text()
                    break
                except LLMError as error:
                    delay = None if answer.given_out or probe else self._retry_delay(error, retries,
                                                                                     deadline)
                    if delay is None:
                        raise
                    self._back_off(error, retries, delay)
                    retries += 1
            completion = self._completion(messages, text, answer.model, answer.finish_reason,
                                          answer.usage, started=started, ttft=timing.first_token,
                                          retries=retries)
            self.breaker.record_success()
            judged = True
            yield StreamDone(completion)
        except LLMError as error:
            self._judge(error)
            judged = True
            raise
        finally:
            if not judged:
                # The consumer stopped early (or something outside LLMError happened). Text that
                # arrived proves the endpoint works; otherwise the call says nothing about it.
                if answer.given_out:
                    self.breaker.record_success()
                else:
                    self.breaker.release()

    def _back_off(self, error: LLMError, retries_done: int, delay: float) -> None:
        log.info("llm.retry", kind=error.kind.value, attempt=retries_done + 1, delay=round(delay, 3),
                 detail=error.detail)
        if self._on_retry is not None:
            self._on_retry(error, delay)
        self._sleep(delay)

    def _judge(self, error: LLMError) -> None:
        """Tell the breaker what a failed call says about the endpoint."""
        if error.trips_breaker:
            self.breaker.record_failure()
        else:
            # It answered (400, 401, an empty text...): reachable, so not a reason to stop calling.
            self.breaker.record_success()

    def _completion(self, messages: Sequence[ChatMessage], text: str, model: str | None,
                    finish_reason: str | None, usage: tuple[int, int] | None, *, started: float,
                    ttft: float | None, retries: int) -> Completion:
        if usage is None:
            prompt_tokens = count_messages(messages, self.counter)
            completion_tokens = self.counter.count(text)
        else:
            prompt_tokens, completion_tokens = usage
        return Completion(
            text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            model=model or self.model, finish_reason=finish_reason or "stop",
            usage_estimated=usage is None, latency=self._clock() - started,
            time_to_first_token=ttft, retries=retries)


def _checked_text(text: str | None) -> str:
    if text is None:
        raise LLMMalformedResponse("The completion has no text content.")
    if not text.strip():
        raise LLMEmptyResponse("The model returned an empty answer.")
    return text.strip()


class _StreamedAnswer:
    """Accumulates one streamed attempt. Leading whitespace is held back, so an answer that turns
    out empty fails before anything reached the customer."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.given_out = False
        self.model: str | None = None
        self.finish_reason: str | None = None
        self.usage: tuple[int, int] | None = None

    def add(self, chunk: StreamChunk) -> str:
        """Record a chunk; returns the text to hand out now (may be empty)."""
        self.model = chunk.model or self.model
        self.finish_reason = chunk.finish_reason or self.finish_reason
        self.usage = chunk.usage or self.usage
        if not chunk.text:
            return ""
        self.parts.append(chunk.text)
        if self.given_out:
            return chunk.text
        held = "".join(self.parts).lstrip()
        if held:
            self.given_out = True
        return held

    def finished_text(self) -> str:
        if self.finish_reason is None:
            if not self.parts:
                # Events that carried no answer at all (no choices, not SSE, garbled).
                raise LLMMalformedResponse("The stream carried no answer.")
            # The SDK ends quietly when a server closes the connection between events; an answer
            # without a finish reason was cut off.
            raise LLMConnectionError("The stream ended before the answer was finished.")
        return _checked_text("".join(self.parts))


class _Timing:
    """When a streamed call started and how long its first text took (shared with the stream)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.first_token: float | None = None


class CompletionStream(Iterator[StreamEvent]):
    """Iterate for :class:`TextDelta` events, then one :class:`StreamDone`.

    Close it (or use ``with``) when stopping early, so the connection is released at once.
    """

    def __init__(self, events: Generator[StreamEvent, None, None], timing: _Timing) -> None:
        self._events = events
        self._pending: StreamEvent | None = next(events)  # waits for the first text, or raises
        #: Seconds from the call to the first piece of text, retries included.
        self.time_to_first_token = timing.first_token
        #: The finished answer, once the :class:`StreamDone` event has been read.
        self.completion: Completion | None = None

    def __iter__(self) -> CompletionStream:
        return self

    def __next__(self) -> StreamEvent:
        if self._pending is not None:
            event, self._pending = self._pending, None
        else:
            event = next(self._events)
        if isinstance(event, StreamDone):
            self.completion = event.completion
        return event

    def text(self) -> Iterator[str]:
        """Only the text pieces (the completion is in ``self.completion`` afterwards)."""
        for event in self:
            if isinstance(event, TextDelta):
                yield event.text

    def close(self) -> None:
        self._events.close()

    def __enter__(self) -> CompletionStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

"""Every way an LLM call can fail, as one exception hierarchy the caller can fall back on.

Each failure has a ``kind`` (for metrics and logs), says whether retrying may help
(``retryable``) and whether it is evidence that the endpoint is unhealthy (``trips_breaker``).
Adapters translate their SDK's exceptions into these; nothing above ``llm/`` sees an SDK type.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from chatdesk.errors import ChatdeskError


class FailureKind(StrEnum):
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection"
    BAD_REQUEST = "bad_request"
    AUTH = "auth"
    MALFORMED = "malformed"
    EMPTY = "empty"
    CIRCUIT_OPEN = "circuit_open"
    UNGROUNDED = "ungrounded"


class LLMError(ChatdeskError):
    """An LLM call that gave no usable answer. Callers fall back and count ``kind``.

    It maps to 502 if it ever reaches the HTTP layer: the fault is upstream, not the request's.
    """

    status = 502
    title = "Language model unavailable"
    kind: FailureKind = FailureKind.SERVER_ERROR
    retryable = False
    trips_breaker = True

    def __init__(self, detail: str, *, status_code: int | None = None,
                 retry_after: float | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        #: The upstream HTTP status, when there was one.
        self.status_code = status_code
        #: Seconds the server asked us to wait (``Retry-After``), when it said.
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind.value!r}, detail={self.detail!r})"


class LLMTimeout(LLMError):
    kind = FailureKind.TIMEOUT
    retryable = True


class LLMRateLimited(LLMError):
    kind = FailureKind.RATE_LIMITED
    retryable = True


class LLMServerError(LLMError):
    kind = FailureKind.SERVER_ERROR
    retryable = True


class LLMConnectionError(LLMError):
    kind = FailureKind.CONNECTION
    retryable = True


class LLMBadRequest(LLMError):
    """The endpoint refused what we sent (4xx): retrying the same request cannot help."""

    kind = FailureKind.BAD_REQUEST
    trips_breaker = False


class LLMAuthError(LLMError):
    """401/403: the API key or its permissions are wrong; an operator must fix the settings."""

    kind = FailureKind.AUTH
    trips_breaker = False


class LLMMalformedResponse(LLMError):
    """The server answered, but not with a chat completion (not JSON, no choices, null content)."""

    kind = FailureKind.MALFORMED


class LLMEmptyResponse(LLMError):
    """A well-formed completion whose text is empty or only whitespace."""

    kind = FailureKind.EMPTY
    trips_breaker = False


class CircuitOpen(LLMError):
    """Rejected without calling the endpoint: it failed repeatedly and is cooling down."""

    status = 503
    kind = FailureKind.CIRCUIT_OPEN
    trips_breaker = False


class UngroundedAnswer(LLMError):
    """The model answered, but its citations do not tie the answer to the passages it was given.

    ``reason`` is ``no_citation`` (cites nothing), ``declined`` (cites nothing and reads as a
    "don't know") or ``unknown_citation`` (cites a passage number that was not given).
    Not an endpoint failure: it never trips the breaker.
    """

    kind = FailureKind.UNGROUNDED
    trips_breaker = False

    def __init__(self, detail: str, *, reason: str, text: str,
                 unknown: tuple[int, ...] = ()) -> None:
        super().__init__(detail)
        self.reason = reason
        #: The rejected answer, as the model wrote it (for logs and review, not for customers).
        self.text = text
        self.unknown = unknown

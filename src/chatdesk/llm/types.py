"""What an LLM call takes and gives: chat messages in, a completion or a stream of deltas out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict


class ChatMessage(TypedDict):
    """One message of a chat request, in the OpenAI shape every compatible server accepts."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Completion:
    """A finished answer and what it cost.

    Token counts come from the server's ``usage`` when it sent one; otherwise they are counted
    locally (approximately) and ``usage_estimated`` is True.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    finish_reason: str
    usage_estimated: bool = False
    #: Seconds from the call to the end of the answer, retries and back-off included.
    latency: float = 0.0
    #: Seconds from the call to the first piece of text (streams only).
    time_to_first_token: float | None = None
    #: Failed attempts that were retried before this answer.
    retries: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TextDelta:
    """The next piece of a streamed answer."""

    text: str


@dataclass(frozen=True)
class StreamDone:
    """The last event of a stream: the whole answer, its usage and timings."""

    completion: Completion


StreamEvent = TextDelta | StreamDone


@dataclass(frozen=True)
class CallOptions:
    """Per-call generation settings (the config's, unless a call overrides them)."""

    temperature: float
    max_tokens: int
    #: Seconds this attempt may take (the rest of the caller's deadline); None: the config's.
    timeout: float | None = None


@dataclass(frozen=True)
class RawCompletion:
    """What an adapter read from its endpoint, before the base class checks it."""

    #: None when the server sent a null content.
    text: str | None
    model: str | None = None
    finish_reason: str | None = None
    #: (prompt_tokens, completion_tokens) when the server reported them.
    usage: tuple[int, int] | None = None


@dataclass(frozen=True)
class StreamChunk:
    """One chunk of an adapter's stream: any of a text piece, a finish reason, usage."""

    text: str = ""
    model: str | None = None
    finish_reason: str | None = None
    usage: tuple[int, int] | None = None

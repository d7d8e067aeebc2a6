"""What the pipeline takes and gives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


class AnsweredBy:
    CURATED = "curated"
    INTENT = "intent"
    RETRIEVAL = "retrieval"
    LLM = "llm"
    FALLBACK = "fallback"
    AGENT = "agent"


class HandoffReason:
    CUSTOMER_REQUEST = "customer_request"
    FALLBACK_STREAK = "fallback_streak"
    NEGATIVE_FEEDBACK = "negative_feedback"


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str
    snippet: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "url": self.url,
                "snippet": self.snippet, "score": self.score}


@dataclass(frozen=True)
class Answer:
    """The content of a reply: what depends only on the question and the bot's knowledge."""

    text: str
    answered_by: str
    sources: tuple[Source, ...] = ()
    intent: str | None = None
    confidence: float | None = None
    # What writing it cost (an LLM's tokens); not kept in the cache: a cached reply costs nothing.
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "answered_by": self.answered_by,
                "sources": [s.as_dict() for s in self.sources],
                "intent": self.intent, "confidence": self.confidence}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        return cls(text=data["text"], answered_by=data["answered_by"],
                   sources=tuple(Source(**s) for s in data["sources"]),
                   intent=data.get("intent"), confidence=data.get("confidence"))


class Asked(NamedTuple):
    """An earlier question the bot answered from what it knows."""

    text: str
    #: Whether it was searched alone (False: together with earlier questions, as a follow-up);
    #: None when not known (a client sent the history), and then judged by its form.
    stood_alone: bool | None = None


@dataclass(frozen=True)
class Turn:
    """One customer message with what the pipeline needs to know about the conversation so far."""

    text: str
    previous_questions: tuple[Asked, ...] = ()
    # Recent messages as (role, text), oldest first, for an LLM's context.
    history: tuple[tuple[str, str], ...] = ()
    previous_fallbacks: int = 0
    bot_offered_human: bool = False
    # When the team is away: when it is back ("tomorrow at 09:00 GMT"); None when it is in.
    team_back_at: str | None = None


@dataclass(frozen=True)
class Reply:
    text: str
    answered_by: str | None
    sources: tuple[Source, ...] = ()
    intent: str | None = None
    confidence: float | None = None
    handoff: bool = False
    handoff_reason: str | None = None
    cached: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    #: Searched together with earlier questions (a follow-up), not alone.
    used_context: bool = False


@dataclass(frozen=True)
class Delta:
    """A piece of the reply's text as it is written (streaming)."""

    text: str

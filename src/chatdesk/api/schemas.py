"""Request and response bodies of the customer API (pydantic v2, published as OpenAPI 3.1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatdesk.store.models import Conversation, Message


class _EmptyBodyAllowed(BaseModel):
    """A body that may be left out altogether (every field has a default)."""

    model_config = ConfigDict(openapi_extra={"required": False})  # type: ignore[typeddict-unknown-key]

    @model_validator(mode="before")
    @classmethod
    def _none_is_empty(cls, data: Any) -> Any:
        return {} if data is None else data


class ConversationPath(BaseModel):
    conversation_id: str = Field(max_length=64, description="The conversation's id.")


class CreateConversationBody(_EmptyBodyAllowed):
    model_config = ConfigDict(extra="forbid")
    channel: str = Field(default="web", min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")


class PostMessageBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000, description="What the customer wrote.")


class HandoffBody(_EmptyBodyAllowed):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=200)


class SourceOut(BaseModel):
    id: str
    title: str
    url: str
    snippet: str
    score: float


class IntentOut(BaseModel):
    name: str
    confidence: float | None


class MessageOut(BaseModel):
    id: str
    role: Literal["customer", "bot", "agent", "system"]
    text: str
    created_at: datetime
    answered_by: str | None
    intent: IntentOut | None
    sources: list[SourceOut]
    handoff: bool
    cached: bool
    feedback: Literal["up", "down"] | None = Field(default=None, description="The customer's thumbs.")

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        intent = IntentOut(name=message.intent, confidence=message.confidence) if message.intent else None
        return cls(id=str(message.id), role=message.role, text=message.text,  # type: ignore[arg-type]
                   created_at=message.created_at, answered_by=message.answered_by, intent=intent,
                   sources=[SourceOut(**s) for s in message.sources or []],
                   handoff=message.handoff, cached=message.cached,
                   feedback=message.feedback_rating)  # type: ignore[arg-type]


class ConversationOut(BaseModel):
    id: str
    status: Literal["bot", "waiting", "agent", "resolved"]
    created_at: datetime
    messages: list[MessageOut]
    csat_score: int | None = None
    csat_requested: bool = Field(default=False, description="Resolved and not yet rated since.")
    contact_email_left: bool = False
    team_back_at: str | None = Field(
        default=None, description="When the support team is away: when it is back, in words.")

    @classmethod
    def of(cls, conversation: Conversation, messages: list[Message],
           team_back_at: str | None = None) -> ConversationOut:
        return cls(id=conversation.id, status=conversation.status,  # type: ignore[arg-type]
                   created_at=conversation.created_at,
                   messages=[MessageOut.of(m) for m in messages], csat_score=conversation.csat_score,
                   csat_requested=_csat_requested(conversation),
                   contact_email_left=conversation.contact_email is not None, team_back_at=team_back_at)


def _csat_requested(conversation: Conversation) -> bool:
    if conversation.status != "resolved":
        return False
    if conversation.csat_at is None:
        return True
    return conversation.resolved_at is not None and conversation.csat_at < conversation.resolved_at


class CreatedConversationOut(ConversationOut):
    token: str = Field(description="Shown once; send it as 'Authorization: Bearer TOKEN'.")


class PostMessageOut(BaseModel):
    message: MessageOut
    reply: MessageOut | None = Field(description="Null while a person has the conversation.")

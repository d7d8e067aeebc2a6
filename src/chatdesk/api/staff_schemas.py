"""Request and response bodies of the staff API and the customer's feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from chatdesk.api.schemas import MessageOut
from chatdesk.services.inbox import InboxItem
from chatdesk.services.staff import MIN_PASSWORD
from chatdesk.store.base import MAX_ID
from chatdesk.store.models import Conversation, CuratedAnswer, Message, User


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Variant = Annotated[str, Field(min_length=1, max_length=4000)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class LoginBody(_Strict):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    active: bool

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, email=user.email, name=user.display_name, role=user.role,
                   active=user.active)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str
    user: UserOut


class UserBody(_Strict):
    email: str = Field(min_length=3, max_length=320, json_schema_extra={"format": "email"})
    role: Literal["agent", "admin", "analyst"]
    password: str = Field(min_length=MIN_PASSWORD, max_length=1000)
    name: str = Field(default="", max_length=200)


class UserPatch(_Strict):
    active: StrictBool


class UserPath(BaseModel):
    user_id: Id


class MessagePath(BaseModel):
    message_id: str = Field(max_length=20)


class AnswerPath(BaseModel):
    answer_id: Id


_STATUS = "(bot|waiting|agent|resolved)"


class InboxQuery(BaseModel):
    status: str = Field(default="waiting,agent", pattern=rf"^{_STATUS}(,{_STATUS})*$",
                        description="Comma-separated statuses.")
    assigned: Literal["any", "me", "unassigned"] = "any"
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=MAX_ID)


class StaffMessageOut(MessageOut):
    author: str | None = None
    feedback_comment: str | None = None
    corrected_by_answer: int | None = None
    reply_to: str | None = None

    @classmethod
    def of_staff(cls, message: Message, authors: dict[int, User]) -> StaffMessageOut:
        base = MessageOut.of(message).model_dump()
        author = authors.get(message.author_id) if message.author_id else None
        return cls(**base, author=author.display_name if author else None,
                   feedback_comment=message.feedback_comment,
                   corrected_by_answer=message.corrected_by_id,
                   reply_to=str(message.reply_to_id) if message.reply_to_id else None)


class InboxItemOut(BaseModel):
    id: str
    status: str
    channel: str
    handoff_reason: str | None
    handoff_at: datetime | None
    waiting_seconds: float | None
    assigned_to: UserOut | None
    last_message: str | None
    last_message_at: datetime | None
    message_count: int
    contact_email: str | None
    csat_score: int | None

    @classmethod
    def of(cls, item: InboxItem) -> InboxItemOut:
        c = item.conversation
        return cls(id=c.id, status=c.status, channel=c.channel, handoff_reason=c.handoff_reason,
                   handoff_at=c.handoff_at, waiting_seconds=item.waiting_seconds,
                   assigned_to=UserOut.of(item.assigned_to) if item.assigned_to else None,
                   last_message=item.last_message.text if item.last_message else None,
                   last_message_at=item.last_message.created_at if item.last_message else None,
                   message_count=item.message_count, contact_email=c.contact_email,
                   csat_score=c.csat_score)


class InboxOut(BaseModel):
    conversations: list[InboxItemOut]


class StaffConversationOut(BaseModel):
    id: str
    status: str
    channel: str
    created_at: datetime
    handoff_reason: str | None
    handoff_at: datetime | None
    assigned_to: UserOut | None
    contact_email: str | None
    csat_score: int | None
    csat_comment: str | None
    messages: list[StaffMessageOut]

    @classmethod
    def of(cls, conversation: Conversation, messages: list[Message], authors: dict[int, User],
           assignee: User | None) -> StaffConversationOut:
        return cls(id=conversation.id, status=conversation.status, channel=conversation.channel,
                   created_at=conversation.created_at, handoff_reason=conversation.handoff_reason,
                   handoff_at=conversation.handoff_at,
                   assigned_to=UserOut.of(assignee) if assignee else None,
                   contact_email=conversation.contact_email, csat_score=conversation.csat_score,
                   csat_comment=conversation.csat_comment,
                   messages=[StaffMessageOut.of_staff(m, authors) for m in messages])


class AgentReplyBody(_Strict):
    text: str = Field(min_length=1, max_length=4000)


class CorrectionBody(_Strict):
    answer: str = Field(min_length=1, max_length=4000, description="The right answer.")
    variants: list[Variant] = Field(default_factory=list, max_length=49,
                                    description="Other ways customers ask this question.")
    intent: str | None = Field(default=None, max_length=100)


class AnswerBody(_Strict):
    question: str = Field(min_length=1, max_length=4000)
    answer: str = Field(min_length=1, max_length=4000)
    variants: list[Variant] = Field(default_factory=list, max_length=49)
    intent: str | None = Field(default=None, max_length=100)


class AnswerPatch(_Strict):
    question: str | None = Field(default=None, min_length=1, max_length=4000)
    answer: str | None = Field(default=None, min_length=1, max_length=4000)
    variants: list[Variant] | None = Field(default=None, max_length=49)
    intent: str | None = Field(default=None, max_length=100)
    active: StrictBool | None = None


class AnswerOut(BaseModel):
    id: int
    question: str
    answer: str
    variants: list[str]
    intent: str | None
    active: bool
    source_message: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, answer: CuratedAnswer) -> AnswerOut:
        return cls(id=answer.id, question=answer.question, answer=answer.answer,
                   variants=[v.text for v in answer.variants[1:]], intent=answer.intent,
                   active=answer.active,
                   source_message=str(answer.source_message_id) if answer.source_message_id else None,
                   created_at=answer.created_at, updated_at=answer.updated_at)


class AnswerListQuery(BaseModel):
    q: str | None = Field(default=None, max_length=200)


class AnswersOut(BaseModel):
    answers: list[AnswerOut]


class FeedbackBody(_Strict):
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=2000)


class CsatBody(_Strict):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class ContactBody(_Strict):
    email: str = Field(min_length=3, max_length=320)


class AnalyticsQuery(BaseModel):
    since: datetime | None = Field(default=None, description="Start (inclusive); default 30 days ago.")
    until: datetime | None = Field(default=None, description="End (exclusive); default now.")


class ExportQuery(BaseModel):
    since: datetime | None = Field(default=None, description="Only conversations started from then on.")

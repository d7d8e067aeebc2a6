"""The agents' side: the queue of handed-off conversations, claiming, replying, resolving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from chatdesk.engine.guard import clean_text
from chatdesk.engine.status import Event
from chatdesk.engine.types import AnsweredBy
from chatdesk.errors import Conflict, Forbidden
from chatdesk.extensions import db
from chatdesk.services.conversations import get_conversation
from chatdesk.services.handoff import announce, bot_messages, move, notify, team_back_at
from chatdesk.services.runtime import current_settings
from chatdesk.store.models import Conversation, ConversationStatus, Message, Role, StaffRole, User, utcnow

OPEN_STATUSES = (ConversationStatus.WAITING, ConversationStatus.AGENT)


@dataclass(frozen=True)
class InboxItem:
    conversation: Conversation
    assigned_to: User | None
    last_message: Message | None
    message_count: int
    waiting_seconds: float | None


def list_inbox(statuses: tuple[str, ...] = OPEN_STATUSES, assigned: str = "any",
               user: User | None = None, limit: int = 50, offset: int = 0) -> list[InboxItem]:
    """Oldest handoff first: who has waited longest is served first."""
    statement = select(Conversation).where(Conversation.status.in_(statuses))
    if assigned == "me" and user is not None:
        statement = statement.where(Conversation.assigned_to_id == user.id)
    elif assigned == "unassigned":
        statement = statement.where(Conversation.assigned_to_id.is_(None))
    statement = statement.order_by(
        Conversation.handoff_at.is_(None), Conversation.handoff_at, Conversation.created_at
    ).limit(limit).offset(offset)
    conversations = list(db.session.scalars(statement))
    ids = [c.id for c in conversations]
    counts = dict(db.session.execute(
        select(Message.conversation_id, func.count()).where(Message.conversation_id.in_(ids))
        .group_by(Message.conversation_id)).all()) if ids else {}
    last_ids = select(func.max(Message.id)).where(Message.conversation_id.in_(ids)).group_by(
        Message.conversation_id)
    last = {m.conversation_id: m for m in db.session.scalars(
        select(Message).where(Message.id.in_(last_ids)))} if ids else {}
    users = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_({c.assigned_to_id for c in conversations if c.assigned_to_id})))}
    now = utcnow()
    return [
        InboxItem(c, users.get(c.assigned_to_id) if c.assigned_to_id else None, last.get(c.id),
                  counts.get(c.id, 0), _waiting_seconds(c, now))
        for c in conversations
    ]


def _waiting_seconds(conversation: Conversation, now: datetime) -> float | None:
    """How long the customer has waited for a person: since the handoff, until claimed."""
    if conversation.status != ConversationStatus.WAITING or conversation.handoff_at is None:
        return None
    return round((now - conversation.handoff_at).total_seconds(), 1)


def authors(messages: list[Message]) -> dict[int, User]:
    ids = {m.author_id for m in messages if m.author_id}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}


def assignee(conversation: Conversation) -> User | None:
    return db.session.get(User, conversation.assigned_to_id) if conversation.assigned_to_id else None


def _holder_name(conversation: Conversation) -> str:
    holder = assignee(conversation)
    return holder.display_name if holder else "another agent"


def claim(conversation_id: str, user: User) -> Conversation:
    """The conversation is ``user``'s: of agents claiming it at the same moment, one gets it and
    the others are told who has it (the status is compared and set in one statement)."""
    conversation = get_conversation(conversation_id)
    if conversation.status == ConversationStatus.AGENT:
        if conversation.assigned_to_id == user.id:
            return conversation  # claiming twice changes nothing
        raise Conflict(f"{_holder_name(conversation)} already has this conversation.",
                       code="claimed_by_other")
    if not move(conversation, Event.CLAIM, assigned_to_id=user.id, claimed_at=utcnow()):
        db.session.rollback()  # someone changed it since it was read: go by what it is now
        return claim(conversation_id, user)
    announce(conversation, bot_messages().agent_joined(user.display_name))
    return conversation


def _require_holder(conversation: Conversation, user: User, action: str) -> None:
    if conversation.status == ConversationStatus.RESOLVED:
        raise Conflict(f"This conversation is resolved; it cannot {action}.", code="resolved")
    if conversation.status != ConversationStatus.AGENT:
        raise Conflict(f"Claim this conversation before you {action}.", code="not_claimed")
    if conversation.assigned_to_id != user.id and user.role != StaffRole.ADMIN:
        raise Forbidden(f"{_holder_name(conversation)} has this conversation.", code="claimed_by_other")


def reply(conversation_id: str, user: User, text: str) -> Message:
    conversation = get_conversation(conversation_id)
    _require_holder(conversation, user, "be replied to")
    message = Message(conversation_id=conversation.id, role=Role.AGENT, answered_by=AnsweredBy.AGENT,
                      author_id=user.id, text=clean_text(text, current_settings().max_message_chars))
    db.session.add(message)
    db.session.commit()
    notify(conversation)
    return message


def _leave_agent(conversation_id: str, user: User, event: str, action: str, **values: Any) -> Conversation:
    """Resolve or release: only the holder (or an admin) may, while an agent has it. If another
    request changed the conversation meanwhile, the rules are applied again to what it is now."""
    conversation = get_conversation(conversation_id)
    if conversation.status == ConversationStatus.AGENT:
        _require_holder(conversation, user, action)
    if not move(conversation, event, **values):
        db.session.rollback()
        return _leave_agent(conversation_id, user, event, action, **values)
    return conversation


def resolve(conversation_id: str, user: User) -> Conversation:
    conversation = _leave_agent(conversation_id, user, Event.RESOLVE, "be resolved", resolved_at=utcnow())
    announce(conversation, bot_messages().resolved)
    return conversation


def requeue_held_by(user: User) -> list[Conversation]:
    """The conversations ``user`` holds go back to the queue (their account is being disabled):
    the customers are told, and the team sees them waiting again, first in line as before."""
    held = list(db.session.scalars(select(Conversation).where(
        Conversation.status == ConversationStatus.AGENT, Conversation.assigned_to_id == user.id)))
    moved = [conversation for conversation in held
             if move(conversation, Event.REQUEUE, assigned_to_id=None)]  # unless released meanwhile
    for conversation in moved:
        announce(conversation, bot_messages().agent_left(user.display_name, team_back_at()))
    return moved


def release(conversation_id: str, user: User) -> Conversation:
    """Back to the bot: the agent is done, or the handoff was not needed."""
    conversation = _leave_agent(conversation_id, user, Event.RELEASE, "be released", assigned_to_id=None)
    announce(conversation, bot_messages().back_to_bot)
    return conversation

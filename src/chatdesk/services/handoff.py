"""Status changes of a conversation, the system messages that tell the customer, and the signals
that wake live streams. Every change goes through here, so none is silent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from chatdesk.engine.business_hours import describe
from chatdesk.engine.messages import BotMessages
from chatdesk.engine.status import Event, next_status
from chatdesk.extensions import db
from chatdesk.services.events import INBOX_CHANNEL, conversation_channel
from chatdesk.services.runtime import current_runtime, current_settings
from chatdesk.store.models import Conversation, ConversationStatus, Handoff, Message, Role, utcnow

MAX_REASON = 64


def bot_messages() -> BotMessages:
    return BotMessages(current_settings().company_name)


def team_back_at(now: datetime | None = None) -> str | None:
    """None while the team is in; otherwise when it is back, in words."""
    now = now or utcnow()
    hours = current_runtime().business_hours
    opening = hours.next_opening(now)
    if opening is None or opening == now:
        return None
    return describe(opening, now)


def system_message(conversation: Conversation, text: str, handoff: bool = False) -> Message:
    message = Message(conversation_id=conversation.id, role=Role.SYSTEM, text=text, handoff=handoff)
    db.session.add(message)
    return message


def announce(conversation: Conversation, text: str, handoff: bool = False) -> Message:
    """Tell the customer what is happening: the notice is committed with the caller's changes,
    then everyone watching the conversation is woken."""
    message = system_message(conversation, text, handoff)
    db.session.commit()
    notify(conversation)
    return message


def record_handoff(conversation: Conversation, reason: str) -> bool:
    """Queue the conversation for a person (in the caller's transaction). False if it is not
    with the bot (another request queued it first, say): a handoff is recorded, and announced, once."""
    if conversation.status != ConversationStatus.BOT:
        return False
    now = utcnow()
    if not move(conversation, Event.HAND_OFF, handoff_reason=reason[:MAX_REASON], handoff_at=now,
                assigned_to_id=None):
        return False
    db.session.add(Handoff(conversation_id=conversation.id, reason=reason[:MAX_REASON],
                           within_hours=team_back_at(now) is None))
    return True


def move(conversation: Conversation, event: str, **values: Any) -> bool:
    """Change the status by ``event`` (and set ``values``) only if nobody else has changed it
    since it was read, in one statement: of requests racing to do the same, one does it and the
    others get False. A move the status does not allow raises ``Conflict`` as ever."""
    seen = conversation.status
    moved = db.session.scalar(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.status == seen)
        .values(status=next_status(seen, event), updated_at=utcnow(), **values)
        .returning(Conversation.id)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(conversation)
    return moved is not None


def notify(conversation: Conversation) -> None:
    """After a commit: wake the conversation's streams and the agents' inbox."""
    events = current_runtime().events
    events.publish(conversation_channel(conversation.id), {"status": conversation.status})
    events.publish(INBOX_CHANNEL, {"conversation_id": conversation.id, "status": conversation.status})

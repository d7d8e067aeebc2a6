"""What customers tell us about the bot and the team: thumbs on replies, CSAT, a contact email."""

from __future__ import annotations

from sqlalchemy import select

from chatdesk.engine.guard import check_email
from chatdesk.engine.types import HandoffReason
from chatdesk.errors import Conflict
from chatdesk.extensions import db
from chatdesk.services.conversations import authorize, get_message
from chatdesk.services.handoff import (
    announce,
    bot_messages,
    notify,
    record_handoff,
    system_message,
    team_back_at,
)
from chatdesk.store.models import Conversation, ConversationStatus, Message, Role, utcnow

UP, DOWN = "up", "down"
DOWNS_IN_A_ROW = 2


def message_for_customer(message_id: str, token: str | None) -> tuple[Message, Conversation]:
    """The message, if the token belongs to its conversation."""
    message = get_message(message_id)
    return message, authorize(message.conversation_id, token)


def rate_reply(message: Message, conversation: Conversation, rating: str,
               comment: str | None = None) -> Message | None:
    """Store a thumbs up or down; the second thumbs-down in a row hands the conversation off.

    Returns the system message announcing the handoff, if there was one.
    """
    if message.role != Role.BOT:
        raise Conflict("Only the bot's replies can be rated.", code="not_a_bot_reply")
    message.feedback_rating = rating
    message.feedback_comment = (comment or "").strip() or None
    message.feedback_at = utcnow()
    notice = None
    if (rating == DOWN and conversation.status == ConversationStatus.BOT and _downs_in_a_row(message)
            and record_handoff(conversation, HandoffReason.NEGATIVE_FEEDBACK)):
        notice = system_message(conversation, bot_messages().handoff_after_feedback(team_back_at()),
                                handoff=True)
    db.session.commit()
    notify(conversation)
    return notice


def _downs_in_a_row(message: Message) -> bool:
    """The latest rated bot replies of the current bot spell (since the last system or agent
    message) are all thumbs-down, and there are enough of them."""
    recent = db.session.execute(
        select(Message.role, Message.feedback_rating)
        .where(Message.conversation_id == message.conversation_id)
        .order_by(Message.id.desc())
    ).all()
    downs = 0
    for role, rating in recent:
        if role in (Role.SYSTEM, Role.AGENT):
            break
        if role == Role.BOT and rating is not None:
            if rating != DOWN:
                break
            downs += 1
            if downs >= DOWNS_IN_A_ROW:
                return True
    return False


def rate_conversation(conversation: Conversation, score: int, comment: str | None = None) -> None:
    conversation.csat_score = score
    conversation.csat_comment = (comment or "").strip() or None
    conversation.csat_at = utcnow()
    db.session.commit()
    notify(conversation)


def leave_contact_email(conversation: Conversation, email: str) -> Message:
    email = check_email(email.strip())
    conversation.contact_email = email
    return announce(conversation, bot_messages().email_noted(email))

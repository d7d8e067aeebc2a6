"""How well the bot and the team are doing over a period (definitions in docs/analytics.md)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from chatdesk.engine.followup import normalise
from chatdesk.engine.types import AnsweredBy
from chatdesk.extensions import db
from chatdesk.store.models import Conversation, Handoff, Message, Role

TOP = 10


def summary(since: datetime, until: datetime) -> dict[str, Any]:
    """Conversations started in [since, until) and what happened in them."""
    started = (select(Conversation.id)
               .where(Conversation.created_at >= since, Conversation.created_at < until)
               .where(select(Message.id).where(Message.conversation_id == Conversation.id,
                                               Message.role == Role.CUSTOMER).exists()))
    conversation_ids = set(db.session.scalars(started))
    total = len(conversation_ids)
    in_window = Message.conversation_id.in_(started)

    handoffs = db.session.execute(
        select(Handoff.conversation_id, Handoff.reason, Handoff.created_at)
        .where(Handoff.conversation_id.in_(started)).order_by(Handoff.created_at)
    ).all()
    handed_off = {h.conversation_id for h in handoffs}
    with_agent = set(db.session.scalars(
        select(Message.conversation_id).where(in_window, Message.role == Role.AGENT).distinct()))
    contained = conversation_ids - handed_off - with_agent

    csat = db.session.execute(
        select(func.avg(Conversation.csat_score), func.count(Conversation.csat_score))
        .where(Conversation.id.in_(started))
    ).one()
    thumbs = dict(db.session.execute(
        select(Message.feedback_rating, func.count())
        .where(in_window, Message.role == Role.BOT, Message.feedback_rating.is_not(None))
        .group_by(Message.feedback_rating)).all())
    up, down = thumbs.get("up", 0), thumbs.get("down", 0)

    intents = db.session.execute(
        select(Message.intent, func.count()).where(in_window, Message.role == Role.BOT,
                                                   Message.intent.is_not(None))
        .group_by(Message.intent).order_by(func.count().desc(), Message.intent).limit(TOP)).all()

    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "conversations": total,
        "containment_rate": _rate(len(contained), total),
        "handoff_rate": _rate(len(handed_off), total),
        "handoffs": len(handoffs),
        "handoff_reasons": dict(Counter(h.reason for h in handoffs).most_common()),
        "csat_average": round(float(csat[0]), 2) if csat[0] is not None else None,
        "csat_count": int(csat[1]),
        "thumbs_up": up,
        "thumbs_down": down,
        "thumbs_up_ratio": _rate(up, up + down),
        "top_intents": [{"intent": name, "count": count} for name, count in intents],
        "top_unanswered_questions": _unanswered(started),
        "median_first_human_reply_seconds": _median_first_reply(handoffs),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _unanswered(started: Any) -> list[dict[str, Any]]:
    """Customer questions the bot answered with "I don't know", grouped by their normalised text."""
    reply = aliased(Message)
    texts = db.session.scalars(
        select(Message.text).join(reply, and_(reply.reply_to_id == Message.id,
                                              reply.answered_by == AnsweredBy.FALLBACK))
        .where(Message.conversation_id.in_(started), Message.role == Role.CUSTOMER)
    ).all()
    counts: Counter[str] = Counter()
    example: dict[str, str] = {}
    for text in texts:
        key = normalise(text)
        counts[key] += 1
        example.setdefault(key, text)
    return [{"question": example[key], "count": count} for key, count in counts.most_common(TOP)]


def _median_first_reply(handoffs: Sequence[Any]) -> float | None:
    """Per handed-off conversation: first agent message after its first handoff."""
    first_handoff: dict[str, datetime] = {}
    for handoff in handoffs:
        first_handoff.setdefault(handoff.conversation_id, handoff.created_at)
    if not first_handoff:
        return None
    agent_messages = db.session.execute(
        select(Message.conversation_id, Message.created_at)
        .where(Message.conversation_id.in_(first_handoff), Message.role == Role.AGENT)
        .order_by(Message.created_at)
    ).all()
    waits: dict[str, float] = {}
    for conversation_id, created_at in agent_messages:
        handed = first_handoff[conversation_id]
        if conversation_id not in waits and created_at >= handed:
            waits[conversation_id] = (created_at - handed).total_seconds()
    return round(statistics.median(waits.values()), 1) if waits else None

"""Server-sent event streams: a conversation's new messages, and changes in the agents' inbox.

Each stream reads the database (the truth) whenever a signal arrives, and at least every
``heartbeat`` seconds, so nothing is lost if a signal is. It holds no database connection while
it waits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select

from chatdesk.extensions import db
from chatdesk.services.events import INBOX_CHANNEL, SHUTDOWN, conversation_channel
from chatdesk.services.runtime import current_runtime
from chatdesk.store.models import Conversation, Message

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(data: dict[str, Any], event: str, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def conversation_events(conversation_id: str, after_id: int, heartbeat: float,
                        render: Callable[[Message], dict[str, Any]]) -> Iterator[str]:
    """Every message after ``after_id`` (the Last-Event-ID), then new ones as they come."""
    bus = current_runtime().events
    with bus.subscribe(conversation_channel(conversation_id)) as subscription:
        yield "retry: 3000\n\n"
        while not bus.shutting_down:
            subscription.drain()
            messages = list(db.session.scalars(
                select(Message).where(Message.conversation_id == conversation_id,
                                      Message.id > after_id).order_by(Message.id)))
            status = db.session.scalar(select(Conversation.status)
                                       .where(Conversation.id == conversation_id))
            db.session.remove()  # back to the pool while we wait
            for message in messages:
                after_id = message.id
                yield sse({"message": render(message), "status": status}, "message", message.id)
            signal = subscription.wait(heartbeat)
            if signal is None:
                yield ": keep-alive\n\n"


def inbox_events(heartbeat: float) -> Iterator[str]:
    """A signal per change in any conversation; the console fetches what it shows."""
    bus = current_runtime().events
    with bus.subscribe(INBOX_CHANNEL) as subscription:
        yield "retry: 3000\n\n"
        yield sse({"conversation_id": None}, "ready")
        while not bus.shutting_down:
            payload = subscription.wait(heartbeat)
            if payload is None:
                yield ": keep-alive\n\n"
                continue
            if payload == SHUTDOWN:
                return
            changed = [payload, *subscription.drain()]
            for item in {p.get("conversation_id"): p for p in changed}.values():
                yield sse({"conversation_id": item.get("conversation_id"),
                           "status": item.get("status")}, "inbox")

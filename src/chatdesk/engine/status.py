"""The conversation's life: bot → waiting → agent → resolved, and the only ways between them."""

from __future__ import annotations

from chatdesk.errors import Conflict
from chatdesk.store.models import ConversationStatus as S


class Event:
    HAND_OFF = "hand_off"
    CLAIM = "claim"
    RELEASE = "release"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    REQUEUE = "requeue"  # the agent who had it can no longer answer (their account was disabled)


# (from, event) → to. Anything else is refused: a resolved conversation, for instance, can
# only be reopened by the customer writing again, never handed off or claimed on its own.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.BOT, Event.HAND_OFF): S.WAITING,
    (S.BOT, Event.CLAIM): S.AGENT,
    (S.BOT, Event.RESOLVE): S.RESOLVED,
    (S.WAITING, Event.CLAIM): S.AGENT,
    (S.WAITING, Event.RELEASE): S.BOT,
    (S.WAITING, Event.RESOLVE): S.RESOLVED,
    (S.AGENT, Event.RELEASE): S.BOT,
    (S.AGENT, Event.REQUEUE): S.WAITING,
    (S.AGENT, Event.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Event.REOPEN): S.BOT,
}


def next_status(current: str, event: str) -> str:
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise Conflict(f"A conversation that is {current!r} cannot {event.replace('_', ' ')}.",
                       code="invalid_transition", current_status=current) from None

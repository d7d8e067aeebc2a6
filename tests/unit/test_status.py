import pytest

from chatdesk.engine.status import TRANSITIONS, Event, next_status
from chatdesk.errors import Conflict


@pytest.mark.parametrize(("current", "event", "after"), [
    ("bot", Event.HAND_OFF, "waiting"),
    ("waiting", Event.CLAIM, "agent"),
    ("bot", Event.CLAIM, "agent"),
    ("agent", Event.RESOLVE, "resolved"),
    ("agent", Event.RELEASE, "bot"),
    ("agent", Event.REQUEUE, "waiting"),  # its agent's account was disabled
    ("resolved", Event.REOPEN, "bot"),
])
def test_the_allowed_moves(current: str, event: str, after: str) -> None:
    assert next_status(current, event) == after


@pytest.mark.parametrize(("current", "event"), [
    ("resolved", Event.HAND_OFF),  # no loop: a resolved conversation never goes back to the queue
    ("resolved", Event.CLAIM),
    ("resolved", Event.RELEASE),
    ("waiting", Event.HAND_OFF),
    ("agent", Event.HAND_OFF),
    ("bot", Event.REOPEN),
    ("resolved", Event.REQUEUE),
    ("waiting", Event.REQUEUE),
])
def test_everything_else_is_refused(current: str, event: str) -> None:
    with pytest.raises(Conflict):
        next_status(current, event)


def test_the_only_way_out_of_resolved_is_the_customer_writing_again() -> None:
    assert [event for (state, event) in TRANSITIONS if state == "resolved"] == [Event.REOPEN]

import pytest

from chatdesk.engine.handoff import accepts_offer, asks_for_human, escalates_after


@pytest.mark.parametrize("text", [
    "I want to talk to a person",
    "can I speak to a human please",
    "agent please",
    "Human!",
    "connect me with a real person",
    "let me chat with someone from customer service",
    "put me through to an agent",
    "I need a customer service representative",
    "REAL PERSON",
])
def test_explicit_requests_for_a_person(text: str) -> None:
    assert asks_for_human(text)


@pytest.mark.parametrize("text", [
    "how long does delivery take",
    "I don't want to talk to a person, just tell me the returns window",
    "is the person who delivers my parcel from DPD?",
    "my agent code does not work",
])
def test_other_messages_are_not_requests_for_a_person(text: str) -> None:
    assert not asks_for_human(text)


@pytest.mark.parametrize("text", ["yes", "Yes please", "ok", "sure!", "yes please, thanks"])
def test_yes_accepts_the_offer_of_a_person(text: str) -> None:
    assert accepts_offer(text)


@pytest.mark.parametrize("text", ["yes but how long does delivery take", "no", "no thanks"])
def test_a_new_question_or_no_does_not(text: str) -> None:
    assert not accepts_offer(text)


def test_the_second_fallback_in_a_row_escalates() -> None:
    assert not escalates_after(previous_fallbacks=0, streak_limit=2)
    assert escalates_after(previous_fallbacks=1, streak_limit=2)
    assert not escalates_after(previous_fallbacks=1, streak_limit=3)

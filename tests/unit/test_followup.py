import pytest

from chatdesk.engine.followup import answered_questions, contextual_query, normalise, second_look
from chatdesk.engine.types import Asked


def test_a_follow_up_is_joined_to_the_previous_question_and_not_cacheable() -> None:
    query, alone = contextual_query("and for express?", [Asked("how long does delivery take?")])
    assert query == "how long does delivery take? and for express?"
    assert not alone


def test_a_question_that_stands_alone_is_searched_as_it_is() -> None:
    assert contextual_query("Do you ship to Canada?", [Asked("how long does delivery take?")]) == (
        "Do you ship to Canada?", True)
    assert contextual_query("and for express?", []) == ("and for express?", True)


@pytest.mark.parametrize("text", ["do they expire?", "can it go in the dryer?", "how long does that take?",
                                  "is THIS one cheaper"])
def test_a_short_message_about_it_or_them_is_joined_to_the_previous_question(text: str) -> None:
    previous = [Asked("can I buy a gift card?")]
    assert contextual_query(text, previous) == (f"can I buy a gift card? {text}", False)
    assert contextual_query(text, []) == (text, True)


def test_words_that_merely_contain_a_pronoun_are_not_follow_ups() -> None:
    assert contextual_query("is shipping to Italy free", [Asked("hi")]) == ("is shipping to Italy free", True)


def test_a_message_with_more_than_one_word_the_knowledge_base_never_uses_is_a_new_subject() -> None:
    unknown = {"can it go in the dryer?": 1, "and football?": 1, "is it the capital of Peru?": 2}.get
    previous = [Asked("how do I wash a wool jumper?")]
    assert not contextual_query("can it go in the dryer?", previous, lambda t: unknown(t) or 0)[1]
    assert contextual_query("is it the capital of Peru?", previous, lambda t: unknown(t) or 0) == (
        "is it the capital of Peru?", True)


def test_long_messages_starting_with_and_are_not_follow_ups() -> None:
    text = "and another thing, I would like to know how long the returns window is for sale items"
    assert contextual_query(text, [Asked("hi")]) == (text, True)


def test_normalise_ignores_case_spacing_and_end_punctuation() -> None:
    assert normalise("  How long   does DELIVERY take?? ") == normalise("how long does delivery take")


def test_only_questions_the_bot_answered_from_what_it_knows_are_context() -> None:
    messages = [("customer", "can I buy a gift card?", None, False), ("bot", "Yes...", "retrieval", False),
                ("customer", "ok thanks", None, False), ("bot", "You're welcome!", "intent", False),
                ("customer", "what is the capital of Peru?", None, False),
                ("bot", "Sorry...", "fallback", False),
                ("customer", "do you sell rugs?", None, False), ("system", "Sam joined", None, False),
                ("customer", "and lamps?", None, False)]
    assert answered_questions(messages) == (Asked("can I buy a gift card?", stood_alone=True),)


def test_a_follow_up_to_a_follow_up_keeps_the_question_that_set_the_subject() -> None:
    previous = [Asked("can I buy a gift card?"), Asked("do they expire?")]
    query, _ = contextual_query("can I use them in shops?", previous)
    assert query == "can I buy a gift card? do they expire? can I use them in shops?"


def test_the_subject_is_the_latest_question_that_stood_alone() -> None:
    previous = [Asked("how do I reset my password?"), Asked("how much is delivery?"),
                Asked("what about express?"), Asked("and is it tracked?")]
    query, _ = contextual_query("and on Saturdays?", previous)
    assert query == "how much is delivery? and is it tracked? and on Saturdays?"


def test_a_new_question_after_a_chain_is_its_own_subject() -> None:
    previous = [Asked("can I buy a gift card?"), Asked("do they expire?")]
    assert contextual_query("how do I reset my password?", previous) == ("how do I reset my password?", True)


def test_a_question_answered_with_context_is_not_the_subject_of_the_next() -> None:
    previous = [Asked("my parcel says delivered but it isn't here", stood_alone=True),
                Asked("what should I do?", stood_alone=False)]  # answered as a follow-up
    query, _ = contextual_query("and if it still doesn't turn up?", previous)
    assert query == ("my parcel says delivered but it isn't here what should I do? "
                     "and if it still doesn't turn up?")


def test_a_second_look_is_for_short_messages_in_the_knowledge_bases_words() -> None:
    def unknown(text: str) -> int:
        return sum(word in {"nhs", "ceo"} for word in text.lower().rstrip("?").split())

    previous = [Asked("can I return a cushion?")]
    assert second_look("how long have I got?", previous, unknown) == (
        "can I return a cushion? how long have I got?")
    assert second_look("do you do an NHS discount?", previous, unknown) is None
    assert second_look("how long have I got?", [], unknown) is None
    assert second_look("how long have I got to send back the cushion I bought last week?", previous,
                       unknown) is None

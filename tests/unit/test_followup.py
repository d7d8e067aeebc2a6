from chatdesk.engine.followup import contextual_query, normalise


def test_a_follow_up_is_joined_to_the_previous_question_and_not_cacheable() -> None:
    query, alone = contextual_query("and for express?", ["how long does delivery take?"])
    assert query == "how long does delivery take? and for express?"
    assert not alone


def test_a_question_that_stands_alone_is_searched_as_it_is() -> None:
    assert contextual_query("Do you ship to Canada?", ["how long does delivery take?"]) == (
        "Do you ship to Canada?", True)
    assert contextual_query("and for express?", []) == ("and for express?", True)


def test_long_messages_starting_with_and_are_not_follow_ups() -> None:
    text = "and another thing, I would like to know how long the returns window is for sale items"
    assert contextual_query(text, ["hi"]) == (text, True)


def test_normalise_ignores_case_spacing_and_end_punctuation() -> None:
    assert normalise("  How long   does DELIVERY take?? ") == normalise("how long does delivery take")

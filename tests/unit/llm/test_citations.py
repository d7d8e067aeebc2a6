"""Citations: parsing, validation against the passages sent, and markers removed for customers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatdesk.llm import (
    FailureKind,
    MarkerStripper,
    Passage,
    UngroundedAnswer,
    cited_numbers,
    ground,
    strip_markers,
)

PASSAGES = (
    Passage("delivery", "Delivery", "Standard delivery takes 3 to 5 working days.", section="Standard"),
    Passage("delivery", "Delivery", "Express delivery arrives the next working day.", section="Express"),
    Passage("returns", "Returns policy", "You can return any item within 30 days."),
)


@pytest.mark.parametrize(("text", "numbers"), [
    ("Standard delivery takes 3 to 5 days [1].", (1,)),
    ("Both options exist [1, 2].", (1, 2)),
    ("Both options exist [2][1] and returns are free [3].", (2, 1, 3)),
    ("Cited twice [1]. Again [1; 2].", (1, 2)),
    ("Long form [Passage 3] works too.", (3,)),
    ("No citation here, only a [note] and an array[i].", ()),
])
def test_cited_numbers_in_order_of_first_citation(text: str, numbers: tuple[int, ...]) -> None:
    assert cited_numbers(text) == numbers


def test_a_grounded_answer_maps_citations_to_passages_and_strips_the_markers() -> None:
    answer = ground("Standard delivery takes 3 to 5 days [1]; express is next day [2]. Returns: 30 days [3].",
                    PASSAGES)

    assert answer.text == "Standard delivery takes 3 to 5 days; express is next day. Returns: 30 days."
    assert answer.raw_text.endswith("30 days [3].")
    assert answer.citations == (1, 2, 3)
    assert answer.sources == PASSAGES
    assert answer.source_ids == ("delivery", "returns")  # one article, two passages: listed once


def test_an_answer_citing_nothing_when_passages_were_given_is_rejected() -> None:
    with pytest.raises(UngroundedAnswer) as caught:
        ground("Delivery usually takes a few days.", PASSAGES)

    assert caught.value.kind is FailureKind.UNGROUNDED and caught.value.reason == "no_citation"
    assert caught.value.text == "Delivery usually takes a few days."
    assert not caught.value.trips_breaker and not caught.value.retryable


def test_an_uncited_dont_know_is_rejected_but_counted_as_declined() -> None:
    with pytest.raises(UngroundedAnswer) as caught:
        ground("I'm sorry, I don't know. Would you like me to put you in touch with a person?", PASSAGES)
    assert caught.value.reason == "declined"


@pytest.mark.parametrize("text", ["Next day delivery [4].", "See [0].", "Both [1, 7]."])
def test_an_answer_citing_a_passage_that_was_not_given_is_rejected(text: str) -> None:
    with pytest.raises(UngroundedAnswer) as caught:
        ground(text, PASSAGES)
    assert caught.value.reason == "unknown_citation"
    assert caught.value.unknown and all(n not in (1, 2, 3) for n in caught.value.unknown)


def test_without_passages_an_uncited_answer_is_accepted_and_any_citation_is_unknown() -> None:
    assert ground("Hello! How can I help?", ()).text == "Hello! How can I help?"
    with pytest.raises(UngroundedAnswer):
        ground("It takes 3 days [1].", ())


@pytest.mark.parametrize(("text", "stripped"), [
    ("It takes 3 days [1].", "It takes 3 days."),
    ("It takes 3 days [1] and express one [2].", "It takes 3 days and express one."),
    ("Free returns [1][3]", "Free returns"),
    ("Keep [this] and [1a] as they are [2].", "Keep [this] and [1a] as they are."),
    ("An unfinished [1", "An unfinished [1"),
])
def test_strip_markers(text: str, stripped: str) -> None:
    assert strip_markers(text) == stripped


@given(st.lists(st.sampled_from(["It", " takes", " 3", " days", " [", "1", "]", "[2", ", 3]", ".",
                                 " [note]", "\n", "  ", "[passage 1]", "x"]), max_size=30),
       st.data())
def test_streamed_stripping_gives_the_same_text_however_the_pieces_are_cut(
        words: list[str], data: st.DataObject) -> None:
    text = "".join(words)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=10)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

    streamed = "".join(MarkerStripper().strip(pieces))

    assert streamed.strip() == strip_markers(text)

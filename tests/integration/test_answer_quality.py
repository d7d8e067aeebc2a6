"""Held-out customer questions: the right article as the top source, quoting the section that
answers (the `sections` column, labelled by reading the articles), or an honest fallback.

The questions in tests/data are never used to tune anything (calibration uses data/demo).
`benchmarks/retrieval.py` reports the same numbers in full.
"""

from __future__ import annotations

import csv

import pytest
from flask.testing import FlaskClient

from chatdesk.retrieval.parsing import parse_markdown
from tests.conftest import DATA, ROOT, open_chat

ROWS = list(csv.DictReader((DATA / "paraphrases.csv").read_text(encoding="utf-8").splitlines()))
PARAPHRASES = [(row["question"], row["slug"]) for row in ROWS]
SECTIONS = {row["question"]: set(row["sections"].split(" | ")) for row in ROWS}
KB = ROOT / "data" / "demo" / "kb"
FOLLOW_UPS = list(csv.DictReader((DATA / "follow_ups.csv").read_text(encoding="utf-8").splitlines()))
CHAINS = list(csv.DictReader((DATA / "follow_up_chains.csv").read_text(encoding="utf-8").splitlines()))
OUT_OF_SCOPE = [line.strip() for line in (DATA / "out_of_scope.txt").read_text().splitlines()
                if line.strip()]

# Measured 2026-11 on this data (see docs/benchmarks.md); a drop below these is a regression.
MIN_TOP_SOURCE_RATE = 0.60
MIN_RIGHT_SECTION_RATE = 0.75  # of the answers from the right article
MIN_FALLBACK_RATE = 0.85
MIN_FOLLOW_UP_RATE = 0.6  # "do they expire?" after a question about gift cards
MIN_CHAIN_RATE = 0.75  # "can I use them in shops?" after "can I buy a gift card?", "do they expire?"


def quotes_a_section(text: str, slug: str, headings: set[str]) -> bool:
    """Whether the answer quotes a sentence (or bullet) of one of the article's sections."""
    article = parse_markdown((KB / f"{slug}.md").read_text(encoding="utf-8"), slug)
    return any(unit.text in text for section in article.sections
               if (section.heading or "(intro)") in headings for unit in section.units)


@pytest.fixture
def asker(client: FlaskClient):  # type: ignore[no-untyped-def]
    def ask(question: str) -> dict:  # type: ignore[type-arg]
        # A new conversation per question: no fallback streak, no follow-up context.
        return open_chat(client).ask(question)
    return ask


def test_paraphrased_questions_get_the_right_article_as_the_top_source(asker) -> None:  # type: ignore[no-untyped-def]
    right, right_section = [], []
    for question, slug in PARAPHRASES:
        reply = asker(question)
        if reply["answered_by"] == "retrieval" and reply["sources"][0]["id"] == slug:
            right.append(question)
            if quotes_a_section(reply["text"], slug, SECTIONS[question]):
                right_section.append(question)
    assert len(PARAPHRASES) >= 20
    assert len(right) >= 20
    assert len(right) / len(PARAPHRASES) >= MIN_TOP_SOURCE_RATE, (
        f"{len(right)}/{len(PARAPHRASES)} right")
    assert len(right_section) / len(right) >= MIN_RIGHT_SECTION_RATE, (
        f"{len(right_section)}/{len(right)} quote the section that answers")


def test_out_of_scope_questions_get_the_fallback(asker) -> None:  # type: ignore[no-untyped-def]
    fallbacks = [q for q in OUT_OF_SCOPE if asker(q)["answered_by"] == "fallback"]
    assert len(OUT_OF_SCOPE) >= 10
    assert len(fallbacks) >= 10
    assert len(fallbacks) / len(OUT_OF_SCOPE) >= MIN_FALLBACK_RATE, (
        f"{len(fallbacks)}/{len(OUT_OF_SCOPE)} fell back")


def answered_from_the_right_article(client: FlaskClient, rows: list[dict[str, str]],
                                    turns: tuple[str, ...]) -> list[str]:
    """The conversations (one per row, its ``turns`` asked in order) whose last reply's top
    source is the row's article."""
    right = []
    for row in rows:
        chat = open_chat(client)
        *_, reply = [chat.ask(row[turn]) for turn in turns]
        if reply["sources"] and reply["sources"][0]["id"] == row["slug"]:
            right.append(row[turns[-1]])
    return right


def test_follow_ups_are_answered_from_the_article_of_the_question_before(client: FlaskClient) -> None:
    right = answered_from_the_right_article(client, FOLLOW_UPS, ("first", "second"))
    assert len(FOLLOW_UPS) >= 15
    assert len(right) / len(FOLLOW_UPS) >= MIN_FOLLOW_UP_RATE, f"{len(right)}/{len(FOLLOW_UPS)} right"


def test_a_follow_up_to_a_follow_up_is_answered_from_the_subject_of_the_chain(client: FlaskClient) -> None:
    right = answered_from_the_right_article(client, CHAINS, ("first", "second", "third"))
    assert len(CHAINS) >= 12
    assert len(right) / len(CHAINS) >= MIN_CHAIN_RATE, f"{len(right)}/{len(CHAINS)} right"

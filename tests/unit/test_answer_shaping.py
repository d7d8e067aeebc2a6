import csv
from dataclasses import replace
from pathlib import Path

import pytest

from chatdesk.engine.answer import MAIN, MAX_ANSWER_CHARS, shape_answer
from chatdesk.retrieval.index import HybridIndex
from tests.unit.kb_builder import DEFAULT_RANKING, STORE, build_index

DEMO_KB = Path(__file__).resolve().parents[2] / "data" / "demo" / "kb"


@pytest.fixture(scope="module")
def index() -> HybridIndex:
    return build_index(STORE)


def answer(index: HybridIndex, question: str) -> str:
    result = index.search(question)
    return shape_answer(result.hits[0], result.query_vector)


def test_the_answer_is_the_relevant_sentence_not_the_whole_article(index: HybridIndex) -> None:
    text = answer(index, "what does express delivery cost")
    assert "£5.95" in text
    assert "Standard delivery" not in text


def test_a_bullet_comes_with_the_sentence_that_introduces_its_list(index: HybridIndex) -> None:
    text = answer(index, "do you accept american express cards")
    assert text.startswith("We accept:\n• ")
    assert "American Express" in text


def test_answers_stay_short() -> None:
    long_section = " ".join(f"Returns rule {i} says items must be unworn and tagged." for i in range(40))
    index = build_index({"long": f"# Returns\n\n## Rules\n\n{long_section}\n"})
    assert len(answer(index, "what are the rules for returns")) <= MAIN.chars



def test_a_relevant_opening_sentence_is_kept_when_room_is_short() -> None:
    # The demo store's Klarna section: four sentences, all close to the question, too long together.
    article = (DEMO_KB / "payment-methods.md").read_text(encoding="utf-8")
    section = article.split("## Paying in instalments with Klarna\n\n")[1].split("\n\n")[0]
    index = build_index({"pay": f"# Payments\n\n## Paying in instalments with Klarna\n\n{section}\n"})
    text = answer(index, "can I pay with Klarna?")
    assert text.startswith("Klarna Pay in 3 lets UK customers split")
    assert len(text) <= MAIN.chars


def test_a_close_second_section_follows_under_its_heading() -> None:
    index = build_index(STORE, ranking=replace(DEFAULT_RANKING, passage_margin=0.2))
    result = index.search("how much does delivery cost", k=1)
    hit = result.hits[0]
    assert hit.also is not None
    text = shape_answer(hit, result.query_vector)
    first, second = text.split("\n\n")
    assert first.startswith(f"{hit.chunk.section}: ")
    assert second.startswith(f"{hit.also.section}: ")
    assert second.removeprefix(f"{hit.also.section}: ") in hit.also.text  # its opening, verbatim


def test_a_signpost_sentence_is_not_the_answer() -> None:
    index = build_index({"pay": "# Price adjustments\n\nThis article explains price adjustments and price "
                                "matching. If a price drops within 7 days of your order, we refund the "
                                "difference.\n"})
    text = answer(index, "do you refund me if the price drops?")
    assert "This article" not in text and "refund the difference" in text


def test_answers_from_two_sections_stay_within_the_limit() -> None:
    """The demo knowledge base with a wide margin, so that most answers quote two sections."""
    articles = {path.stem: path.read_text(encoding="utf-8") for path in sorted(DEMO_KB.glob("*.md"))}
    index = build_index(articles, ranking=replace(DEFAULT_RANKING, passage_margin=0.3))
    with (DEMO_KB.parent / "calibration.csv").open(newline="", encoding="utf-8") as handle:
        questions = [row["question"] for row in csv.DictReader(handle)][:80]
    two = 0
    for question in questions:
        result = index.search(question, k=1)
        text = shape_answer(result.hits[0], result.query_vector)
        assert 0 < len(text) <= MAX_ANSWER_CHARS, question
        two += result.hits[0].also is not None and "\n\n" in text
    assert two > 40


def test_a_short_list_is_quoted_whole_with_its_lead(index: HybridIndex) -> None:
    text = answer(index, "do you accept american express cards")
    assert text == "We accept:\n• Visa and Mastercard\n• American Express\n• PayPal and Apple Pay"


TIERS = """# Rewards tiers

## Benefits of each tier

Silver members get everything in Basic, plus:

- 1.25 points per pound spent,
- free returns by post,
- early access to the sales.

Gold members get everything in Silver, plus:

- 1.5 points per pound spent,
- free express delivery on every order,
- a free personal styling appointment in any shop.
"""


def test_a_list_lead_is_never_quoted_without_its_items() -> None:
    index = build_index({"tiers": TIERS})
    text = answer(index, "what extra benefits do members of the tiers get?")
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.endswith(":"):
            assert i + 1 < len(lines) and lines[i + 1].startswith("• "), text


def test_an_item_is_quoted_under_its_own_lead() -> None:
    index = build_index({"tiers": TIERS})
    text = answer(index, "do gold members get free express delivery?")
    assert "free express delivery" in text
    assert "Gold members get everything in Silver, plus:" in text
    # Nothing of the Gold list reads as if it were Silver's.
    if "Silver members get everything in Basic, plus:" in text:
        silver, gold = text.split("Gold members get everything in Silver, plus:")
        assert "express" not in silver


CODES = """# Promo codes

Promo codes are entered at checkout and take money off eligible items.

## Why a promo code isn't working

If the checkout says your code is invalid, check whether:

- the code has expired (every code has an end date),
- your basket meets the minimum spend,
- your basket contains only sale items or other excluded products,
- the code is for first orders only and your email address has ordered before,
- the code was issued for a different country or currency,
- a space or extra character was pasted in with the code,
- the code is for the app only and you are ordering on the website,
- the offer ended early because its stock sold out.

## Forgot to add a code

If you forgot to enter a valid promo code, contact us within 7 days of placing your order. As long
as the code was valid for your order on the day you placed it, we will refund the discount.
"""


def test_a_list_the_question_asks_for_is_quoted_whole_rather_than_cut_for_a_second_section() -> None:
    index = build_index({"codes": CODES}, ranking=replace(DEFAULT_RANKING, passage_margin=0.3))
    result = index.search("my discount code says it is invalid", k=1)
    assert result.hits[0].also is not None  # a second section was close enough to be quoted
    text = shape_answer(result.hits[0], result.query_vector)
    assert text.startswith("If the checkout says your code is invalid, check whether:\n• ")
    assert text.count("\n• ") == 8 and "\n\n" not in text


def test_a_second_sections_opening_does_not_end_on_a_lead() -> None:
    from chatdesk.engine.answer import shape_opening

    index = build_index({"codes": CODES})
    section = next(c for c in index.chunks if c.section == "Why a promo code isn't working")
    assert shape_opening(section, 60) == ""  # the lead fits, none of its items does
    assert shape_opening(section, 130).startswith("If the checkout says your code is invalid, "
                                                  "check whether:\n• the code has expired")

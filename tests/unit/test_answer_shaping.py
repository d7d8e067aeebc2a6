from pathlib import Path

import pytest

from chatdesk.engine.answer import MAX_ANSWER_CHARS, shape_answer
from chatdesk.retrieval.index import HybridIndex
from tests.unit.kb_builder import STORE, build_index

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
    assert len(answer(index, "what are the rules for returns")) <= MAX_ANSWER_CHARS



def test_a_relevant_opening_sentence_is_kept_when_room_is_short() -> None:
    # The demo store's Klarna section: four sentences, all close to the question, too long together.
    article = (DEMO_KB / "payment-methods.md").read_text(encoding="utf-8")
    section = article.split("## Paying in instalments with Klarna\n\n")[1].split("\n\n")[0]
    index = build_index({"pay": f"# Payments\n\n## Paying in instalments with Klarna\n\n{section}\n"})
    text = answer(index, "can I pay with Klarna?")
    assert text.startswith("Klarna Pay in 3 lets UK customers split")
    assert len(text) <= MAX_ANSWER_CHARS

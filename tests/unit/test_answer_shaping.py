import pytest

from chatdesk.engine.answer import MAX_ANSWER_CHARS, shape_answer
from chatdesk.retrieval.index import HybridIndex
from tests.unit.kb_builder import STORE, build_index


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

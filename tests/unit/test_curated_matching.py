"""Curated answers match close paraphrases of their question, and nothing merely nearby."""

import numpy as np
import pytest

from chatdesk import Settings
from chatdesk.retrieval.curated import CuratedEntry, CuratedIndex
from chatdesk.retrieval.embedding import get_embedder
from tests.conftest import MODELS_DIR

QUESTIONS = {1: "Do you price match Argos?", 2: "How do I change the email on my account?",
             3: "Can I collect my order from the Bath shop?"}


@pytest.fixture(scope="module")
def index() -> CuratedIndex:
    embedder = get_embedder(Settings().embedding_backend, MODELS_DIR)
    entries = tuple(CuratedEntry(i, q, f"answer {i}") for i, q in QUESTIONS.items())
    return CuratedIndex(entries, tuple(QUESTIONS.values()), np.arange(3),
                        embedder.embed(list(QUESTIONS.values())), Settings().curated_min_similarity)


def ask(index: CuratedIndex, question: str) -> int | None:
    embedder = get_embedder(Settings().embedding_backend, MODELS_DIR)
    match = index.match(embedder.embed_one(question))
    return match.entry.answer_id if match else None


@pytest.mark.parametrize(("question", "answer"), [
    ("will you price match argos?", 1),
    ("price match argos?", 1),
    ("how can i update my email address", 2),
    ("can i pick up my order in bath", 3),
])
def test_close_paraphrases_match(index: CuratedIndex, question: str, answer: int) -> None:
    assert ask(index, question) == answer


@pytest.mark.parametrize("question", [
    "do you price match john lewis?",
    "how do I reset my password",
    "can i return items to the bath shop",
    "what payment methods do you accept",
])
def test_questions_that_are_only_nearby_do_not(index: CuratedIndex, question: str) -> None:
    assert ask(index, question) is None


def test_an_empty_index_matches_nothing() -> None:
    assert CuratedIndex.empty(0.8).match(np.ones(384, dtype=np.float32)) is None

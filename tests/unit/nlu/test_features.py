"""The lean TF-IDF used at prediction time gives scikit-learn's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from chatdesk.nlu.data import read_intents_csv
from chatdesk.nlu.features import TfidfApplier, tfidf_vectorizer, vectorizer_from_parts, vectorizer_parts

from .conftest import DEMO_INTENTS

UNSEEN = [
    "Where's my parcel??", "can I change the delivery address after ordering", "Ünïcödé ÀCCENTS café",
    "", "   ", "zzzz qqqq", "refund refund refund refund", "x" * 4000,
]


@pytest.fixture(scope="module")
def fitted():
    texts = read_intents_csv(DEMO_INTENTS).texts
    union = tfidf_vectorizer()
    union.fit(texts)
    return union


def test_applier_matches_scikit_learn_one_text_at_a_time_and_in_a_batch(fitted) -> None:
    for union in (fitted, vectorizer_from_parts(vectorizer_parts(fitted))):
        applier = TfidfApplier(union)
        expected = union.transform(UNSEEN)
        batch = applier.transform(UNSEEN)
        assert batch.shape == expected.shape == (len(UNSEEN), applier.width)
        assert batch.dtype == np.float32
        np.testing.assert_allclose(batch.toarray(), expected.toarray(), atol=1e-6)
        for i, text in enumerate(UNSEEN):
            alone = applier.transform([text]).toarray()[0]
            np.testing.assert_allclose(alone, expected[i].toarray()[0], atol=1e-6)


def test_a_text_with_no_known_term_is_an_empty_row(fitted) -> None:
    applier = TfidfApplier(fitted)
    assert applier.transform([""]).nnz == 0
    assert applier.transform([]).shape == (0, applier.width)

"""The metric definitions, checked on hand-made cases whose answers are worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from chatdesk.nlu import evaluate
from chatdesk.nlu.metrics import NO_INTENT


def test_closed_set_figures() -> None:
    result = evaluate(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert result.accuracy == 0.75
    scores = {s.intent: s for s in result.per_intent}
    assert (scores["a"].precision, scores["a"].recall, scores["a"].support) == (1.0, 0.5, 2)
    assert scores["a"].f1 == pytest.approx(2 / 3)
    assert (scores["b"].precision, scores["b"].recall) == (pytest.approx(2 / 3), 1.0)
    assert scores["b"].f1 == pytest.approx(0.8)
    assert result.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert result.in_scope_accuracy is None and result.oos_recall is None and result.oos_precision is None


def test_out_of_scope_figures() -> None:
    # a a a b | o o o o o ; None means "out of scope" and counts as the label o
    truth = ["a", "a", "a", "b", "o", "o", "o", "o", "o"]
    predicted = ["a", "b", None, "b", None, None, None, "a", "b"]
    result = evaluate(truth, predicted, oos_label="o")
    assert result.accuracy == pytest.approx(5 / 9)
    assert result.in_scope_accuracy == pytest.approx(2 / 4)  # a right, b wrong, out of scope wrong, b right
    assert result.oos_recall == pytest.approx(3 / 5)
    assert result.oos_precision == pytest.approx(3 / 4)  # one "a" was said out of scope
    # F1: a = (P 1/2, R 1/3) 0.4; b = (P 1/3, R 1) 0.5; o = (P 3/4, R 3/5) 2/3
    f1 = {s.intent: s.f1 for s in result.per_intent}
    assert f1 == pytest.approx({"a": 0.4, "b": 0.5, "o": 2 / 3})
    assert result.macro_f1 == pytest.approx((0.4 + 0.5 + 2 / 3) / 3)
    assert (result.n_out_of_scope, result.n_predicted_out_of_scope) == (5, 4)


def test_without_an_out_of_scope_label_an_abstention_is_wrong() -> None:
    result = evaluate(["a", "b"], [None, "b"])
    assert result.accuracy == 0.5
    assert result.macro_f1 == pytest.approx(0.5)  # a: nothing predicted, F1 0; b: F1 1
    assert [s.intent for s in result.per_intent] == ["a", "b"]
    assert result.n_predicted_out_of_scope == 1
    assert result.oos_recall is None
    assert result.confused_pairs[0].predicted == NO_INTENT


def test_empty_denominators_give_zero() -> None:
    nothing_refused = evaluate(["a", "o"], ["a", "a"], oos_label="o")
    assert nothing_refused.oos_precision == 0.0 and nothing_refused.oos_recall == 0.0
    assert nothing_refused.in_scope_accuracy == 1.0
    no_oos_examples = evaluate(["a", "b"], ["a", None], oos_label="o")
    assert no_oos_examples.oos_recall == 0.0 and no_oos_examples.oos_precision == 0.0
    assert no_oos_examples.in_scope_accuracy == 0.5
    only_oos = evaluate(["o"], [None], oos_label="o")
    assert only_oos.in_scope_accuracy == 0.0 and only_oos.oos_recall == 1.0


def test_a_label_only_predicted_is_listed_but_not_averaged() -> None:
    result = evaluate(["a", "a"], ["a", "c"])
    assert result.macro_f1 == pytest.approx(2 / 3)
    c = next(s for s in result.per_intent if s.intent == "c")
    assert (c.support, c.precision, c.f1) == (0, 0.0, 0.0)


def test_macro_f1_matches_scikit_learn_over_the_true_labels() -> None:
    rng = np.random.default_rng(3)
    truth = rng.choice(list("abcdef"), 300).tolist()
    predicted = [t if rng.random() < 0.7 else str(rng.choice(list("abcdefg"))) for t in truth]
    expected = f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0)
    assert evaluate(truth, predicted).macro_f1 == pytest.approx(expected)


def test_confused_pairs_count_off_diagonal_cells_most_first() -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    predicted = ["b", "b", "c", "a", "b", "c"]
    result = evaluate(truth, predicted, top_pairs=2)
    assert [(p.true, p.predicted, p.count) for p in result.confused_pairs] == [("a", "b", 2), ("a", "c", 1)]
    assert result.confusion.sum() == 6 and np.trace(result.confusion) == 2


def test_the_json_form_has_the_agreed_keys() -> None:
    result = evaluate(["a", "o"], ["a", None], oos_label="o").as_dict()
    assert {"accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision"} <= set(result)
    assert result["per_intent"][0] == {"intent": "a", "precision": 1.0, "recall": 1.0, "f1": 1.0,
                                       "support": 1}
    assert json.loads(json.dumps(result)) == result
    closed = evaluate(["a", "b"], ["a", "b"]).as_dict()
    assert closed["in_scope_accuracy"] is closed["oos_recall"] is closed["oos_precision"] is None


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="2 true labels but 1 predictions"):
        evaluate(["a", "b"], ["a"])

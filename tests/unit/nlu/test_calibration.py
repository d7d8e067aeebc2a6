"""Temperature scaling and the out-of-scope rule, on numbers small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from chatdesk.nlu.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    probabilities,
)
from chatdesk.nlu.outofscope import (
    OutOfScopeEvidence,
    OutOfScopeRule,
    best_threshold,
    choose_rule,
    neighbour_similarity,
)


def test_the_fitted_temperature_recovers_the_one_that_made_the_labels() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(20_000, 5))
    true_probs = probabilities(scores, 0.5)
    targets = np.array([rng.choice(5, p=row) for row in true_probs])
    temperature = fit_temperature(scores, targets)
    assert temperature == pytest.approx(0.5, rel=0.05)
    fitted, plain = (negative_log_likelihood(scores, targets, t) for t in (temperature, 1.0))
    assert fitted < plain


def test_temperature_changes_confidence_not_the_ranking() -> None:
    scores = np.array([[2.0, 1.0, 0.0], [0.0, 0.5, 0.2]])
    sharp, soft = probabilities(scores, 0.2), probabilities(scores, 5.0)
    assert np.array_equal(sharp.argmax(axis=1), soft.argmax(axis=1))
    assert sharp.max() > 0.99 and soft.max() < 0.5
    assert np.allclose(sharp.sum(axis=1), 1.0)


def test_expected_calibration_error() -> None:
    # All at 0.9 confidence, half right: one bin, |0.5 - 0.9| = 0.4.
    assert expected_calibration_error(np.full(10, 0.9), np.arange(10) < 5) == pytest.approx(0.4)
    # Two bins, each exactly as accurate as confident: 0.
    confidence = np.array([0.5, 0.5, 1.0, 1.0])
    assert expected_calibration_error(confidence, np.array([True, False, True, True])) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([]), np.array([], dtype=bool)) == 0.0


def test_neighbour_similarity_is_the_mean_of_the_nearest_cosines() -> None:
    reference = np.eye(3, dtype=np.float32)
    query = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]], dtype=np.float32)
    assert neighbour_similarity(query, reference, 1) == pytest.approx([1.0, 0.8])
    assert neighbour_similarity(query, reference, 2) == pytest.approx([0.5, 0.7])
    assert neighbour_similarity(query, reference, 10) == pytest.approx([1 / 3, 1.4 / 3])  # k capped
    assert neighbour_similarity(query, reference[:0], 3).tolist() == [0.0, 0.0]


def test_the_best_threshold_by_hand() -> None:
    # In scope: scores 3 (right), 2 (right), 1 (wrong). Out of scope: 0 and 1.5.
    # Between 1.5 and 2 both right answers stay and both out-of-scope messages are caught: (2/3 + 1) / 2.
    threshold, objective = best_threshold(np.array([3.0, 2.0, 1.0]), np.array([True, True, False]),
                                          np.array([0.0, 1.5]), np.array([False, False]), 0.5)
    assert threshold == pytest.approx(1.75)
    assert objective == pytest.approx(5 / 6)
    # Weighing recall alone refuses everything; weighing accuracy alone refuses nothing that was right.
    assert best_threshold(np.array([3.0, 2.0]), np.array([True, True]), np.array([2.5]), np.array([False]),
                          1.0)[0] > 3.0
    assert best_threshold(np.array([3.0, 2.0]), np.array([True, True]), np.array([2.5]), np.array([False]),
                          0.0)[0] <= 2.0


def test_a_plateau_of_equal_thresholds_gives_its_middle() -> None:
    # Any threshold between 1 and 5 is perfect; the middle candidate of that plateau is chosen.
    threshold, objective = best_threshold(np.array([5.0, 6.0]), np.array([True, True]),
                                          np.array([0.0, 1.0]), np.array([False, False]), 0.5)
    assert objective == 1.0
    assert threshold == pytest.approx(3.0)


def test_out_of_scope_already_said_cannot_be_lost() -> None:
    # The out-of-scope message scoring 10 was labelled out of scope by the classifier itself.
    _, objective = best_threshold(np.array([1.0]), np.array([True]), np.array([10.0]), np.array([True]), 0.5)
    assert objective == 1.0


def evidence(in_conf: list[float], in_sim: list[float], out_conf: list[float],
             out_sim: list[float]) -> OutOfScopeEvidence:
    n, m = len(in_conf), len(out_conf)
    return OutOfScopeEvidence(np.array(in_conf), np.array(in_sim), np.ones(n, bool), np.zeros(n, bool),
                              np.array(out_conf), np.array(out_sim), np.zeros(m, bool))


def test_similarity_is_weighed_in_when_confidence_alone_cannot_separate() -> None:
    # Same confidence everywhere; only similarity tells the out-of-scope messages apart.
    data = evidence([0.8, 0.8], [0.9, 0.8], [0.8, 0.8], [0.3, 0.2])
    rule, tried = choose_rule(data, similarity_weights=(0.0, 1.0, 2.0), recall_weight=0.5, neighbours=3)
    assert rule.similarity_weight == 1.0  # the smallest weight that separates them
    assert [t["similarity_weight"] for t in tried] == [0.0, 1.0, 2.0]
    outcome = data.outcome(rule)
    assert (outcome["in_scope_accuracy"], outcome["oos_recall"], outcome["oos_precision"]) == (1.0, 1.0, 1.0)


def test_no_out_of_scope_evidence_switches_the_rule_off() -> None:
    data = evidence([0.9], [0.9], [], [])
    rule, tried = choose_rule(data, similarity_weights=(0.0, 1.0), recall_weight=0.5, neighbours=3)
    assert rule.threshold is None and tried == []
    assert not rule.rejects(np.array([1e-9]), np.array([-1.0])).any()


def test_the_rule_reads_as_its_formula() -> None:
    rule = OutOfScopeRule(similarity_weight=2.0, threshold=0.5)
    confidence, similarity = np.array([1.0, 0.5, 1.0]), np.array([0.3, 0.9, 0.2])
    # log(1) + 0.6 = 0.6 keeps; log(0.5) + 1.8 = 1.11 keeps; log(1) + 0.4 = 0.4 refuses
    assert rule.rejects(confidence, similarity).tolist() == [False, False, True]

"""The promotion rule: a new version replaces the active one only when it is better by the margin."""

from __future__ import annotations

import pytest

from chatdesk.nlu import Evaluation, evaluate
from chatdesk.nlu.promotion import PROMOTION_METRIC, decide_promotion, majority_baseline

TRUTH = ["a", "a", "a", "b", "b", "c", "o", "o"]


def scored(right: int) -> Evaluation:
    """An evaluation on TRUTH (no out-of-scope label) with the first ``right`` examples predicted
    right and the rest refused."""
    return evaluate(TRUTH, [*TRUTH[:right], *[None] * (len(TRUTH) - right)])


def test_the_metric_counts_intents_and_refusals_as_the_evaluation_does() -> None:
    assert PROMOTION_METRIC == "accuracy"
    truth = ["a", "a", "b", "oos", "oos"]
    refuses_the_right_ones = evaluate(truth, ["a", "a", "b", None, None], "oos")
    refuses_a_question = evaluate(truth, ["a", None, "b", "a", None], "oos")
    verdict = decide_promotion(refuses_the_right_ones, refuses_a_question)
    assert (verdict.new, verdict.active) == (1.0, 3 / 5) and verdict.promoted


@pytest.mark.parametrize(("new", "active", "min_gain", "promoted", "why"), [
    (6, 4, 0.0, True, "at least the minimum"),
    (6, 4, 0.25, True, "at least the minimum"),     # exactly the margin (2 of 8 examples)
    (6, 4, 0.3, False, "below the minimum"),
    (5, 5, 0.0, False, "not better"),                # equal is not better
    (4, 6, 0.0, False, "not better"),
])
def test_a_new_version_must_beat_the_active_one_by_the_margin(new: int, active: int, min_gain: float,
                                                              promoted: bool, why: str) -> None:
    verdict = decide_promotion(scored(new), scored(active), min_gain)
    assert verdict.promoted is promoted
    assert verdict.gain == pytest.approx((new - active) / 8)
    assert verdict.min_gain == min_gain and why in verdict.reason
    assert set(verdict.as_dict()) == {"promoted", "metric", "new", "active", "gain", "min_gain", "baseline",
                                      "reason"}


def test_with_no_active_version_anything_better_than_the_majority_intent_is_promoted() -> None:
    assert majority_baseline(scored(0)) == 3 / 8  # always answering "a"
    learnt = decide_promotion(scored(4), None, min_gain=0.5)  # the margin is against an active version
    assert learnt.promoted and learnt.active is None and learnt.gain is None
    assert "no active version" in learnt.reason
    assert not decide_promotion(scored(3), None).promoted  # no better than the baseline
    assert not decide_promotion(scored(0), None).promoted


def test_a_negative_margin_is_refused() -> None:
    with pytest.raises(ValueError, match="min_gain"):
        decide_promotion(scored(6), scored(4), -0.1)

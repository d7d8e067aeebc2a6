"""Whether a newly trained version should replace the active one: the promotion rule.

Both versions are scored on the same held-out examples with the same out-of-scope label, and
:data:`PROMOTION_METRIC` decides: ``accuracy`` as :func:`chatdesk.nlu.evaluate` reports it, the share
of held-out messages handled right, where an in-scope message must get its intent (a refusal is
wrong) and, when the held-out set has out-of-scope examples, an out-of-scope message must be
refused. It weighs intents and refusals as often as they occur in the held-out set, which should
look like real traffic; macro-F1 would weigh a rare intent's five examples like a common one's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from chatdesk.nlu.metrics import Evaluation

PROMOTION_METRIC = "accuracy"
# Two scores on the same examples are ratios of counts: closer than this, they are equal.
_EQUAL = 1e-9


@dataclass(frozen=True)
class PromotionVerdict:
    """The decision and the figures it was made on (``active`` is None when nothing served)."""

    promoted: bool
    metric: str
    new: float
    active: float | None
    gain: float | None
    min_gain: float
    baseline: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def majority_baseline(evaluation: Evaluation) -> float:
    """The accuracy of always answering the held-out set's most common label."""
    largest = max((score.support for score in evaluation.per_intent), default=0)
    return largest / evaluation.n_examples if evaluation.n_examples else 0.0


def decide_promotion(new: Evaluation, active: Evaluation | None, min_gain: float = 0.0) -> PromotionVerdict:
    """Promote ``new`` when it beats ``active`` by more than nothing and at least ``min_gain``.

    With no active version, promote it when it beats the majority baseline: a model that learnt
    something is better than none, one that did not is a sign of broken data.
    """
    if min_gain < 0:
        raise ValueError(f"min_gain must be 0 or more, not {min_gain}")
    score = float(getattr(new, PROMOTION_METRIC))
    baseline = majority_baseline(new)
    if active is None:
        promoted = score > baseline + _EQUAL
        reason = (f"no active version; {PROMOTION_METRIC} {score:.4f} is "
                  f"{'above' if promoted else 'not above'} the majority-intent baseline {baseline:.4f}")
        return PromotionVerdict(promoted, PROMOTION_METRIC, score, None, None, min_gain, baseline, reason)
    before = float(getattr(active, PROMOTION_METRIC))
    gain = score - before
    if gain <= _EQUAL:
        promoted, why = False, "it is not better"
    elif gain + _EQUAL < min_gain:
        promoted, why = False, f"the gain is below the minimum {min_gain:.4f}"
    else:
        promoted, why = True, f"the gain is at least the minimum {min_gain:.4f}"
    reason = f"{PROMOTION_METRIC} {score:.4f} against the active version's {before:.4f} ({gain:+.4f}): {why}"
    return PromotionVerdict(promoted, PROMOTION_METRIC, score, before, gain, min_gain, baseline, reason)

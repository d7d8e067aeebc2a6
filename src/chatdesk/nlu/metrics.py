"""How well predicted intents match the true ones, out-of-scope included.

Definitions (docs/intent-model.md gives the same with examples). A prediction of ``None`` means
"out of scope". When an out-of-scope label is given, true labels equal to it are the out-of-scope
examples and a ``None`` prediction counts as that label; without one, a ``None`` prediction is simply
wrong. Every ratio whose denominator is zero is 0.0 (scikit-learn's ``zero_division=0``).

- ``accuracy``: predictions equal to the true label / all examples.
- ``macro_f1``: the unweighted mean of the F1 of each label that occurs in the true labels (the
  out-of-scope label included when present); a label only ever predicted is not averaged, but its
  predictions still lower the recall of the labels they were taken from.
- ``in_scope_accuracy``: over the examples whose true label is not out of scope, the share predicted
  exactly right; predicting out of scope for one of them counts as wrong.
- ``oos_recall``: out-of-scope examples predicted out of scope / out-of-scope examples.
- ``oos_precision``: out-of-scope examples predicted out of scope / examples predicted out of scope.

The three out-of-scope figures are ``None`` when there is no out-of-scope label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Stands for an out-of-scope prediction when there is no out-of-scope label; never a true label.
NO_INTENT = "<no intent>"


@dataclass(frozen=True)
class IntentScore:
    """Precision, recall and F1 of one label, and how many true examples it has."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ConfusedPair:
    """How often examples of ``true`` were predicted as ``predicted``."""

    true: str
    predicted: str
    count: int


@dataclass(frozen=True)
class Evaluation:
    """Every figure of one evaluation; :meth:`as_dict` is its JSON form."""

    accuracy: float
    macro_f1: float
    in_scope_accuracy: float | None
    oos_recall: float | None
    oos_precision: float | None
    oos_label: str | None
    per_intent: list[IntentScore]
    confused_pairs: list[ConfusedPair]
    n_examples: int
    n_out_of_scope: int
    n_predicted_out_of_scope: int
    labels: list[str] = field(repr=False)
    confusion: np.ndarray = field(repr=False)  # rows: true label, columns: predicted, in ``labels`` order

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "in_scope_accuracy": self.in_scope_accuracy,
            "oos_recall": self.oos_recall,
            "oos_precision": self.oos_precision,
            "oos_label": self.oos_label,
            "n_examples": self.n_examples,
            "n_out_of_scope": self.n_out_of_scope,
            "n_predicted_out_of_scope": self.n_predicted_out_of_scope,
            "per_intent": [vars(score) for score in self.per_intent],
            "confused_pairs": [vars(pair) for pair in self.confused_pairs],
        }

    def figures(self, prefix: str = "") -> dict[str, float]:
        """The numbers of :meth:`as_dict` alone (what an experiment tracker logs), named ``prefix``+key;
        a figure that does not apply (None) is left out."""
        return {f"{prefix}{key}": float(value) for key, value in self.as_dict().items()
                if isinstance(value, int | float) and not isinstance(value, bool)}


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


def evaluate(y_true: Sequence[str], y_pred: Sequence[str | None], oos_label: str | None = None,
             top_pairs: int = 10) -> Evaluation:
    """Score predictions against true labels (definitions in the module docstring)."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    stand_in = oos_label if oos_label is not None else NO_INTENT
    truth = np.array(list(y_true), dtype=object)
    predicted = np.array([stand_in if p is None else p for p in y_pred], dtype=object)
    true_labels = sorted(set(truth.tolist()))
    labels = true_labels + sorted(set(predicted.tolist()) - set(true_labels))
    position = {label: i for i, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(confusion, ([position[t] for t in truth], [position[p] for p in predicted]), 1)

    correct = np.diag(confusion)
    support = confusion.sum(axis=1)
    predicted_count = confusion.sum(axis=0)
    per_intent = []
    for i, label in enumerate(labels):
        if label == NO_INTENT:
            continue
        precision = _ratio(correct[i], predicted_count[i])
        recall = _ratio(correct[i], support[i])
        per_intent.append(IntentScore(label, precision, recall, _f1(precision, recall), int(support[i])))
    averaged = [s.f1 for s in per_intent if s.support > 0]

    off_diagonal = confusion - np.diag(correct)
    rows, cols = np.nonzero(off_diagonal)
    pairs = sorted((ConfusedPair(labels[r], labels[c], int(off_diagonal[r, c]))
                    for r, c in zip(rows, cols, strict=True)), key=lambda p: (-p.count, p.true, p.predicted))

    in_scope_accuracy = oos_recall = oos_precision = None
    is_oos = truth == stand_in
    said_oos = predicted == stand_in
    if oos_label is not None:
        hits = truth == predicted
        in_scope_accuracy = _ratio(np.sum(hits & ~is_oos), np.sum(~is_oos))
        oos_recall = _ratio(np.sum(is_oos & said_oos), np.sum(is_oos))
        oos_precision = _ratio(np.sum(is_oos & said_oos), np.sum(said_oos))
    return Evaluation(
        accuracy=_ratio(np.sum(truth == predicted), len(truth)),
        macro_f1=float(np.mean(averaged)) if averaged else 0.0,
        in_scope_accuracy=in_scope_accuracy,
        oos_recall=oos_recall,
        oos_precision=oos_precision,
        oos_label=oos_label,
        per_intent=per_intent,
        confused_pairs=pairs[:top_pairs],
        n_examples=len(truth),
        n_out_of_scope=int(np.sum(is_oos)),
        n_predicted_out_of_scope=int(np.sum(said_oos)),
        labels=labels,
        confusion=confusion,
    )

"""Deciding that a message belongs to no known intent.

A message is out of scope when ``log(confidence) + a * similarity < threshold``: ``confidence`` is the
calibrated probability of the best intent, ``similarity`` the mean cosine between the message's
embedding and its ``k`` nearest training examples. The first term says the classifier is unsure, the
second that the message is unlike anything it was taught; together they separate unseen intents
better than either alone. ``a`` and the threshold are chosen on validation data (labelled
out-of-scope examples, or intents held out of training to play that part).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Reference rows compared at once: bounds the (rows x reference) similarity block in memory.
_BLOCK = 1024


@dataclass(frozen=True)
class OutOfScopeRule:
    """``out of scope <=> log(confidence) + similarity_weight * similarity < threshold``.

    ``threshold`` is ``None`` when nothing could calibrate it: the rule then never fires.
    """

    similarity_weight: float
    threshold: float | None
    neighbours: int = 3

    def score(self, confidence: np.ndarray, similarity: np.ndarray) -> np.ndarray:
        """How in-scope each message looks; higher is more familiar."""
        result: np.ndarray = np.log(np.maximum(confidence, 1e-12)) + self.similarity_weight * similarity
        return result

    def rejects(self, confidence: np.ndarray, similarity: np.ndarray) -> np.ndarray:
        if self.threshold is None:
            return np.zeros(len(confidence), dtype=bool)
        result: np.ndarray = self.score(confidence, similarity) < self.threshold
        return result

    def as_dict(self) -> dict[str, Any]:
        return {"similarity_weight": self.similarity_weight, "threshold": self.threshold,
                "neighbours": self.neighbours}


def neighbour_similarity(vectors: np.ndarray, reference: np.ndarray, neighbours: int) -> np.ndarray:
    """Mean cosine similarity of each (L2-normalised) vector to its ``neighbours`` nearest reference rows."""
    if len(reference) == 0:
        return np.zeros(len(vectors), dtype=np.float32)
    k = min(neighbours, len(reference))
    out = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), _BLOCK):
        block = vectors[start:start + _BLOCK] @ reference.T
        nearest = np.partition(block, block.shape[1] - k, axis=1)[:, -k:]
        out[start:start + _BLOCK] = nearest.mean(axis=1)
    return out


@dataclass(frozen=True)
class OutOfScopeEvidence:
    """Validation messages the rule is chosen on.

    For each: confidence, similarity, and whether the classifier's best label was already the
    out-of-scope label (``*_said_oos``; the rule cannot undo that). In scope also: whether the best
    intent was right.
    """

    in_confidence: np.ndarray
    in_similarity: np.ndarray
    in_correct: np.ndarray
    in_said_oos: np.ndarray
    out_confidence: np.ndarray
    out_similarity: np.ndarray
    out_said_oos: np.ndarray

    @staticmethod
    def combine(parts: Sequence[OutOfScopeEvidence]) -> OutOfScopeEvidence:
        """All parts in one; no parts give empty evidence."""
        values = {}
        for name in OutOfScopeEvidence.__dataclass_fields__:
            empty = np.zeros(0, dtype=bool if name.endswith(("correct", "said_oos")) else np.float32)
            values[name] = np.concatenate([empty] + [getattr(p, name) for p in parts])
        return OutOfScopeEvidence(**values)

    def outcome(self, rule: OutOfScopeRule) -> dict[str, float | int]:
        """In-scope accuracy, out-of-scope recall and precision of ``rule`` on this evidence."""
        accepted = ~(self.in_said_oos | rule.rejects(self.in_confidence, self.in_similarity))
        caught = self.out_said_oos | rule.rejects(self.out_confidence, self.out_similarity)
        said_oos = int(np.sum(caught)) + int(np.sum(~accepted))
        n_in, n_out = len(self.in_correct), len(self.out_said_oos)
        return {
            "in_scope_accuracy": float(np.mean(accepted & self.in_correct)) if n_in else 0.0,
            "oos_recall": float(np.mean(caught)) if n_out else 0.0,
            "oos_precision": float(np.sum(caught) / said_oos) if said_oos else 0.0,
            "n_in_scope": n_in,
            "n_out_of_scope": n_out,
        }


def best_threshold(in_score: np.ndarray, in_correct: np.ndarray, out_score: np.ndarray,
                   out_said_oos: np.ndarray, recall_weight: float) -> tuple[float, float]:
    """The threshold maximising ``(1 - w) * in-scope accuracy + w * out-of-scope recall``, and that value.

    Candidates lie between consecutive observed scores (and below all of them); among equally good
    ones the middle is taken, so the choice does not hug one validation example.
    """
    observed = np.unique(np.concatenate([in_score, out_score]))
    between = (observed[:-1] + observed[1:]) / 2
    candidates = np.concatenate([[observed[0] - 1.0], between, [observed[-1] + 1.0]])
    right = np.sort(in_score[in_correct])
    missed = np.sort(out_score[~out_said_oos])
    accuracy = (len(right) - np.searchsorted(right, candidates, side="left")) / max(len(in_score), 1)
    caught = np.sum(out_said_oos) + np.searchsorted(missed, candidates, side="left")
    recall = caught / max(len(out_score), 1)
    objective = (1 - recall_weight) * accuracy + recall_weight * recall
    best = np.flatnonzero(objective >= objective.max() - 1e-12)
    chosen = int(best[len(best) // 2])
    return float(candidates[chosen]), float(objective[chosen])


def choose_rule(evidence: OutOfScopeEvidence, *, similarity_weights: Sequence[float], recall_weight: float,
                neighbours: int) -> tuple[OutOfScopeRule, list[dict[str, float]]]:
    """The (similarity weight, threshold) with the best objective; ties go to the smaller weight."""
    if len(evidence.in_correct) == 0 or len(evidence.out_said_oos) == 0:
        return OutOfScopeRule(0.0, None, neighbours), []
    tried: list[dict[str, float]] = []
    best: tuple[float, OutOfScopeRule] | None = None
    for weight in similarity_weights:
        probe = OutOfScopeRule(weight, 0.0, neighbours)
        threshold, objective = best_threshold(
            probe.score(evidence.in_confidence, evidence.in_similarity), evidence.in_correct,
            probe.score(evidence.out_confidence, evidence.out_similarity), evidence.out_said_oos,
            recall_weight)
        tried.append({"similarity_weight": weight, "threshold": threshold, "objective": objective})
        if best is None or objective > best[0] + 1e-12:
            best = (objective, OutOfScopeRule(weight, threshold, neighbours))
    assert best is not None
    return best[1], tried

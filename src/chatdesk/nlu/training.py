"""Training an intent model: choose features and regularisation, calibrate, set the out-of-scope rule.

Everything that is chosen (feature set, ``C``, temperature, out-of-scope rule) is chosen on a
stratified validation split of the training data; then, by default, the chosen model is fitted again
on all of it. Evaluation data is never looked at here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from chatdesk.nlu.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    probabilities,
)
from chatdesk.nlu.data import IntentDataset, validation_split
from chatdesk.nlu.errors import IntentDataError
from chatdesk.nlu.features import FeatureSpec, Progress, embed_texts
from chatdesk.nlu.metrics import evaluate
from chatdesk.nlu.model import IntentModel
from chatdesk.nlu.outofscope import OutOfScopeEvidence, OutOfScopeRule, choose_rule, neighbour_similarity
from chatdesk.nlu.selection import Candidate, FittedCandidate, fit_candidate, select_candidate
from chatdesk.retrieval.embedding import Embedder

DEFAULT_FEATURE_SETS = (
    FeatureSpec(tfidf=True, embedding_weight=0.0),
    FeatureSpec(tfidf=False, embedding_weight=1.0),
    FeatureSpec(tfidf=True, embedding_weight=1.0),
    FeatureSpec(tfidf=True, embedding_weight=2.0),
    FeatureSpec(tfidf=True, embedding_weight=3.0),
)
# Recall weights whose rules the training report lists, to show what another weight would give.
TRADE_OFF_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
OOS_STAGE = "out-of-scope calibration"

T = TypeVar("T")


@dataclass(frozen=True)
class TrainingConfig:
    """How to train. The defaults are what docs/intent-model.md measures."""

    oos_label: str | None = None  # label of example messages that belong to no intent, if any
    validation_fraction: float = 0.15
    seed: int = 0
    feature_sets: tuple[FeatureSpec, ...] = DEFAULT_FEATURE_SETS
    c_values: tuple[float, ...] = (0.25, 0.5, 1.0)  # LinearSVC regularisation: smaller is stronger
    oos_recall_weight: float = 0.5  # weight of out-of-scope recall against in-scope accuracy
    similarity_weights: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
    neighbours: int = 3
    pseudo_oos_rounds: int = 3  # rounds of intents held out to play unseen out-of-scope messages
    pseudo_oos_fraction: float = 0.2  # share of intents held out in each round
    refit: bool = True  # fit the chosen model again on all the data
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    max_iter: int = 10_000

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["feature_sets"] = [spec.name for spec in self.feature_sets]
        return values


@dataclass
class TrainingReport:
    """What training chose and why: validation figures of every candidate, calibration, timings."""

    chosen: dict[str, Any]
    candidates: list[dict[str, Any]]
    calibration: dict[str, float]
    out_of_scope: dict[str, Any]
    validation: dict[str, Any]
    counts: dict[str, int]
    timings: dict[str, float]
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(dataset: IntentDataset, oos_label: str | None) -> None:
    intents = [label for label in dataset.intents if label != oos_label]
    if oos_label is not None and oos_label not in dataset.intents:
        more = " ..." if len(dataset.intents) > 20 else ""
        raise IntentDataError(f"{dataset.source}: no example is labelled {oos_label!r} (the out-of-scope "
                              f"label); its labels are {', '.join(dataset.intents[:20])}{more}")
    if len(intents) < 2:
        raise IntentDataError(f"{dataset.source}: {len(intents)} intent besides the out-of-scope label; "
                              "a classifier needs at least 2")


class _Trainer:
    """One training run; the steps share the data, the split and the clock."""

    def __init__(self, dataset: IntentDataset, embedder: Embedder, config: TrainingConfig,
                 progress: Progress | None) -> None:
        self.dataset = dataset
        self.embedder = embedder
        self.config = config
        self.progress: Progress = progress or (lambda stage, done, total: None)
        self.texts = list(dataset.texts)
        self.labels = np.array(dataset.labels, dtype=object)
        self.timings: dict[str, float] = {}
        self.warnings: list[str] = []
        self.embeddings = np.zeros((0, embedder.dimensions), dtype=np.float32)
        self.train_rows = self.validation_rows = np.zeros(0, dtype=np.int64)

    def timed(self, step: str, run: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = run()
        self.timings[step] = round(time.perf_counter() - started, 3)
        return result

    def in_scope(self, rows: np.ndarray) -> np.ndarray:
        return rows[self.labels[rows] != self.config.oos_label] if self.config.oos_label else rows

    def part(self, rows: np.ndarray) -> tuple[list[str], list[str], np.ndarray]:
        return [self.texts[i] for i in rows], self.labels[rows].tolist(), self.embeddings[rows]

    def fit_rows(self, candidate: Candidate, rows: np.ndarray) -> FittedCandidate:
        return fit_candidate(candidate, *self.part(rows), self.config.max_iter)

    def scores(self, fitted: FittedCandidate, rows: np.ndarray) -> np.ndarray:
        return fitted.scores([self.texts[i] for i in rows], self.embeddings[rows])

    def calibrate(self, fitted: FittedCandidate, scores: np.ndarray) -> tuple[float, dict[str, float]]:
        """Temperature scaling on the validation scores, with the fit before and after."""
        classes = fitted.classes.tolist()
        targets = np.array([classes.index(label) for label in self.labels[self.validation_rows]])
        temperature = fit_temperature(scores, targets)
        correct = scores.argmax(axis=1) == targets
        return temperature, {
            "temperature": temperature,
            "nll_before": negative_log_likelihood(scores, targets, 1.0),
            "nll_after": negative_log_likelihood(scores, targets, temperature),
            "ece_before": expected_calibration_error(probabilities(scores, 1.0).max(axis=1), correct),
            "ece_after": expected_calibration_error(probabilities(scores, temperature).max(axis=1), correct),
        }

    def served(self, fitted: FittedCandidate, scores: np.ndarray, rows: np.ndarray, reference: np.ndarray,
               temperature: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Confidence, neighbour similarity and best label of ``rows``, as a served model sees them."""
        probs = probabilities(scores, temperature)
        similarity = neighbour_similarity(self.embeddings[rows], self.embeddings[reference],
                                          self.config.neighbours)
        return probs.max(axis=1), similarity, fitted.classes[probs.argmax(axis=1)]

    def labelled_evidence(self, fitted: FittedCandidate, scores: np.ndarray,
                          temperature: float) -> OutOfScopeEvidence:
        """The chosen model's validation messages, labelled out-of-scope examples among them."""
        truth = self.labels[self.validation_rows]
        confidence, similarity, best = self.served(fitted, scores, self.validation_rows,
                                                   self.in_scope(self.train_rows), temperature)
        oos = truth == self.config.oos_label
        said = best == self.config.oos_label
        return OutOfScopeEvidence(confidence[~oos], similarity[~oos], (best == truth)[~oos], said[~oos],
                                  confidence[oos], similarity[oos], said[oos])

    def held_out_rounds(self) -> list[list[str]]:
        """Disjoint groups of intents to hold out, one per round; none with fewer than 3 intents."""
        intents = [label for label in self.dataset.intents if label != self.config.oos_label]
        size = min(max(1, int(round(self.config.pseudo_oos_fraction * len(intents)))), len(intents) - 2)
        if size < 1:
            return []
        order = np.random.default_rng(self.config.seed).permutation(intents).tolist()
        rounds = min(self.config.pseudo_oos_rounds, len(intents) // size)
        return [sorted(order[r * size:(r + 1) * size]) for r in range(rounds)]

    def held_out_evidence(self, candidate: Candidate, temperature: float,
                          rounds: list[list[str]]) -> OutOfScopeEvidence:
        """Train without some intents, then score their messages as out of scope (several rounds)."""
        oos_label = self.config.oos_label
        parts = []
        self.progress(OOS_STAGE, 0, len(rounds))
        for done, held in enumerate(rounds, start=1):
            held_mask = np.isin(self.labels, held)
            train = self.train_rows[~held_mask[self.train_rows]]
            inside = self.in_scope(self.validation_rows[~held_mask[self.validation_rows]])
            unseen = np.flatnonzero(held_mask)
            fitted = self.fit_rows(candidate, train)
            reference = self.in_scope(train)
            c_in, s_in, best_in = self.served(fitted, self.scores(fitted, inside), inside, reference,
                                              temperature)
            c_out, s_out, best_out = self.served(fitted, self.scores(fitted, unseen), unseen, reference,
                                                 temperature)
            parts.append(OutOfScopeEvidence(c_in, s_in, best_in == self.labels[inside], best_in == oos_label,
                                            c_out, s_out, best_out == oos_label))
            self.progress(OOS_STAGE, done, len(rounds))
        return OutOfScopeEvidence.combine(parts)

    def out_of_scope_rule(self, fitted: FittedCandidate, scores: np.ndarray,
                          temperature: float) -> tuple[OutOfScopeRule, dict[str, Any]]:
        """Choose the rule on labelled out-of-scope validation examples and on held-out intents.

        Labelled examples show the known kinds of out-of-scope message (the classifier also learns
        them as a class); held-out intents stand for the kinds nobody labelled.
        """
        config = self.config
        parts = []
        sources = []
        if config.oos_label and np.any(self.labels[self.validation_rows] == config.oos_label):
            parts.append(self.labelled_evidence(fitted, scores, temperature))
            sources.append("labelled")
        held_out = self.held_out_rounds()
        if held_out:
            parts.append(self.held_out_evidence(fitted.candidate, temperature, held_out))
            sources.append("held-out intents")
        else:
            self.warnings.append("too few intents (or pseudo_oos_rounds=0) to hold some out: only labelled "
                                 "out-of-scope examples, if any, calibrate out-of-scope detection")
        evidence = OutOfScopeEvidence.combine(parts)

        def choose(weight: float) -> tuple[OutOfScopeRule, list[dict[str, float]]]:
            return choose_rule(evidence, similarity_weights=config.similarity_weights, recall_weight=weight,
                               neighbours=config.neighbours)

        rule, tried = choose(config.oos_recall_weight)
        if rule.threshold is None:
            self.warnings.append("no out-of-scope evidence: the out-of-scope rule is off")
        trade_off = []
        for weight in TRADE_OFF_WEIGHTS:
            alternative, _ = choose(weight)
            if alternative.threshold is not None:
                trade_off.append({"recall_weight": weight, "rule": alternative.as_dict(),
                                  **evidence.outcome(alternative)})
        return rule, {
            "mode": " + ".join(sources) or "disabled",
            "held_out_intents": held_out,
            "recall_weight": config.oos_recall_weight,
            "rule": rule.as_dict(),
            "validation": evidence.outcome(rule) if rule.threshold is not None else None,
            "tried": tried,
            "trade_off": trade_off,
        }

    def validation_figures(self, fitted: FittedCandidate, scores: np.ndarray, temperature: float,
                           rule: OutOfScopeRule) -> dict[str, Any]:
        """Validation figures of the chosen model as served (rule applied), before the refit."""
        confidence, similarity, best = self.served(fitted, scores, self.validation_rows,
                                                   self.in_scope(self.train_rows), temperature)
        refused = rule.rejects(confidence, similarity) | (best == self.config.oos_label)
        predicted = [None if no else str(label) for label, no in zip(best, refused, strict=True)]
        truth = self.labels[self.validation_rows].tolist()
        return evaluate(truth, predicted, self.config.oos_label).as_dict()

    def run(self) -> tuple[IntentModel, TrainingReport]:
        config = self.config
        started = time.perf_counter()
        _check(self.dataset, config.oos_label)
        self.embeddings = self.timed("embedding", lambda: embed_texts(
            self.embedder, self.texts, workers=config.workers, progress=self.progress))
        self.train_rows, self.validation_rows = validation_split(
            self.dataset.labels, config.validation_fraction, config.seed)
        if len(self.validation_rows) == 0:
            raise IntentDataError(f"{self.dataset.source}: too few examples to hold out a validation split; "
                                  "give each intent at least 2 examples")
        candidates = [Candidate(spec, c) for spec in config.feature_sets for c in config.c_values]
        selection = self.timed("choosing a model", lambda: select_candidate(
            candidates, self.part(self.train_rows), self.part(self.validation_rows),
            oos_label=config.oos_label, max_iter=config.max_iter, workers=config.workers,
            progress=self.progress))
        fitted, scores = selection.best, selection.validation_scores
        temperature, calibration = self.timed("calibration", lambda: self.calibrate(fitted, scores))
        rule, out_of_scope = self.timed(OOS_STAGE,
                                        lambda: self.out_of_scope_rule(fitted, scores, temperature))
        validation = self.validation_figures(fitted, scores, temperature, rule)

        reference_rows = self.in_scope(self.train_rows)
        if config.refit:
            self.progress("final fit", 0, 1)
            all_rows = np.arange(len(self.texts))
            fitted = self.timed("final fit", lambda: self.fit_rows(selection.best.candidate, all_rows))
            reference_rows = self.in_scope(all_rows)
            self.progress("final fit", 1, 1)
        state = fitted.state(self.embedder.name, config.oos_label, temperature, rule,
                             self.embeddings[reference_rows])
        self.timings["total"] = round(time.perf_counter() - started, 3)

        spec = fitted.candidate.features
        report = TrainingReport(
            chosen={"features": spec.name, "tfidf": spec.tfidf, "embedding_weight": spec.embedding_weight,
                    "c": fitted.candidate.c, "temperature": temperature, "out_of_scope_rule": rule.as_dict()},
            candidates=selection.table,
            calibration=calibration,
            out_of_scope=out_of_scope,
            validation=validation,
            counts={"examples": len(self.texts), "intents": len(state.intents),
                    "out_of_scope_examples": int(np.sum(self.labels == config.oos_label)),
                    "train": len(self.train_rows), "validation": len(self.validation_rows)},
            timings=self.timings,
            warnings=self.warnings,
        )
        metadata = {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "training": config.as_dict(),
            "source": self.dataset.source,
            "report": {key: value for key, value in report.as_dict().items() if key != "candidates"},
        }
        return IntentModel(state, self.embedder, metadata), report


def train_intent_model(dataset: IntentDataset, embedder: Embedder, config: TrainingConfig | None = None,
                       progress: Progress | None = None) -> tuple[IntentModel, TrainingReport]:
    """Train on ``dataset``; ``progress(stage, done, total)`` is called as the work goes on."""
    return _Trainer(dataset, embedder, config or TrainingConfig(), progress).run()

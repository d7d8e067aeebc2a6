"""Fitting candidate linear models and keeping the one that does best on validation data.

A candidate is a feature set and a regularisation strength ``C`` for a linear SVM (one-vs-rest).
Candidates are fitted on threads: liblinear releases the GIL, so two cores fit two at once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from chatdesk.nlu.features import FeatureSpec, Progress, feature_matrix, tfidf_vectorizer
from chatdesk.nlu.metrics import evaluate
from chatdesk.nlu.model import ModelState
from chatdesk.nlu.outofscope import OutOfScopeRule

STAGE = "choosing a model"


@dataclass(frozen=True)
class Candidate:
    features: FeatureSpec
    c: float


@dataclass
class FittedCandidate:
    """A candidate's classifier, with the TF-IDF vectorizer fitted on the same texts."""

    candidate: Candidate
    vectorizer: FeatureUnion | None
    classifier: LinearSVC
    seconds: float

    @property
    def classes(self) -> np.ndarray:
        classes: np.ndarray = self.classifier.classes_
        return classes

    def scores(self, texts: list[str], embeddings: np.ndarray,
               tfidf: sp.csr_matrix | None = None) -> np.ndarray:
        """Decision scores, one column per label; ``tfidf`` reuses features already computed."""
        if tfidf is None and self.vectorizer is not None:
            tfidf = self.vectorizer.transform(texts)
        return two_columns(self.classifier.decision_function(feature_matrix(self.candidate.features, tfidf,
                                                                            embeddings)))

    def state(self, embedder_name: str, oos_label: str | None, temperature: float, rule: OutOfScopeRule,
              reference: np.ndarray) -> ModelState:
        """The weights split into the TF-IDF part and the (already scaled) embedding part."""
        spec = self.candidate.features
        coef = np.asarray(self.classifier.coef_, dtype=np.float64)
        intercept = np.atleast_1d(np.asarray(self.classifier.intercept_, dtype=np.float64))
        if coef.shape[0] == 1:  # two labels: see two_columns
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        n_tfidf = coef.shape[1] - (reference.shape[1] if spec.embedding_weight > 0 else 0)
        tfidf_weights = coef[:, :n_tfidf].T if spec.tfidf else None
        embedding_weights = coef[:, n_tfidf:].T * spec.embedding_weight if spec.embedding_weight > 0 else None
        return ModelState(
            embedder_name=embedder_name,
            labels=tuple(str(label) for label in self.classes),
            oos_label=oos_label,
            features=spec,
            vectorizer=self.vectorizer,
            tfidf_weights=None if tfidf_weights is None else np.ascontiguousarray(tfidf_weights, np.float32),
            embedding_weights=(None if embedding_weights is None
                               else np.ascontiguousarray(embedding_weights, np.float32)),
            intercept=intercept,
            temperature=temperature,
            rule=rule,
            reference=np.ascontiguousarray(reference, dtype=np.float32),
        )


def two_columns(scores: np.ndarray) -> np.ndarray:
    """Scores as (rows, labels); a two-label model gives one column, read as label 1 against label 0."""
    if scores.ndim == 1:
        return np.column_stack([np.zeros_like(scores), scores])
    return scores


def fit_candidate(candidate: Candidate, texts: list[str], labels: list[str], embeddings: np.ndarray,
                  max_iter: int, tfidf: tuple[FeatureUnion, sp.csr_matrix] | None = None) -> FittedCandidate:
    """Fit one candidate; ``tfidf`` reuses a vectorizer already fitted on these texts, and its matrix."""
    started = time.perf_counter()
    vectorizer = matrix = None
    if candidate.features.tfidf:
        vectorizer, matrix = tfidf if tfidf is not None else (tfidf_vectorizer(), None)
        if matrix is None:
            matrix = vectorizer.fit_transform(texts)
    classifier = LinearSVC(C=candidate.c, max_iter=max_iter, random_state=0)
    classifier.fit(feature_matrix(candidate.features, matrix, embeddings), labels)
    return FittedCandidate(candidate, vectorizer, classifier, time.perf_counter() - started)


@dataclass
class Selection:
    """The best candidate, its validation scores, and every candidate's validation figures."""

    best: FittedCandidate
    validation_scores: np.ndarray
    table: list[dict[str, Any]]


def select_candidate(candidates: list[Candidate], train: tuple[list[str], list[str], np.ndarray],
                     validation: tuple[list[str], list[str], np.ndarray], *, oos_label: str | None,
                     max_iter: int, workers: int, progress: Progress) -> Selection:
    """Fit every candidate on ``train`` (texts, labels, embeddings) and keep the best on ``validation``.

    Best means the highest macro-F1, then accuracy; ties go to the earlier (simpler) candidate.
    """
    train_texts, train_labels, train_embeddings = train
    val_texts, val_labels, val_embeddings = validation
    tfidf = None
    val_tfidf = None
    if any(c.features.tfidf for c in candidates):
        vectorizer = tfidf_vectorizer()
        tfidf = (vectorizer, vectorizer.fit_transform(train_texts))
        val_tfidf = vectorizer.transform(val_texts)
    results: list[tuple[tuple[float, float], FittedCandidate, np.ndarray]] = []
    table: list[dict[str, Any]] = []
    progress(STAGE, 0, len(candidates))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        jobs = [pool.submit(fit_candidate, c, train_texts, train_labels, train_embeddings, max_iter,
                            tfidf if c.features.tfidf else None) for c in candidates]
        for done, job in enumerate(jobs, start=1):
            fitted = job.result()
            scores = fitted.scores(val_texts, val_embeddings, val_tfidf)
            figures = evaluate(val_labels, fitted.classes[scores.argmax(axis=1)].tolist(), oos_label)
            results.append(((figures.macro_f1, figures.accuracy), fitted, scores))
            table.append({"features": fitted.candidate.features.name, "c": fitted.candidate.c,
                          "accuracy": figures.accuracy, "macro_f1": figures.macro_f1,
                          "fit_seconds": round(fitted.seconds, 3)})
            progress(STAGE, done, len(candidates))
    best = max(range(len(results)), key=lambda i: (results[i][0], -i))
    return Selection(results[best][1], results[best][2], table)

"""A trained intent model: from a message to an intent, a calibrated confidence, or "out of scope".

:class:`ModelState` is everything learnt (what the artifact stores); :class:`IntentModel` binds it to
the embedder it was trained with, and refuses any other, since its weights only mean something for
that embedder's vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import FeatureUnion

from chatdesk.nlu.calibration import probabilities
from chatdesk.nlu.errors import EmbedderMismatch
from chatdesk.nlu.features import FeatureSpec, TfidfApplier
from chatdesk.nlu.outofscope import OutOfScopeRule, neighbour_similarity
from chatdesk.retrieval.embedding import Embedder

# Messages embedded and scored at once by predict_batch.
_BATCH = 512


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one message.

    ``intent`` is ``None`` when the message is out of scope. ``confidence`` is the calibrated
    probability of the best-ranked label; ``ranking`` the top labels with their probabilities (the
    out-of-scope label among them when the model was trained with one).
    """

    intent: str | None
    confidence: float
    out_of_scope: bool
    ranking: list[tuple[str, float]]


@dataclass(frozen=True)
class ModelState:
    """What training learnt.

    Scores are ``intercept + tfidf(x) @ tfidf_weights + embed(x) @ embedding_weights``.
    """

    embedder_name: str
    labels: tuple[str, ...]  # score columns; includes ``oos_label`` when it was trained on
    oos_label: str | None
    features: FeatureSpec
    vectorizer: FeatureUnion | None = field(repr=False)
    tfidf_weights: np.ndarray | None = field(repr=False)  # (TF-IDF features, labels)
    embedding_weights: np.ndarray | None = field(repr=False)  # (dimensions, labels), weight folded in
    intercept: np.ndarray = field(repr=False)
    temperature: float
    rule: OutOfScopeRule
    reference: np.ndarray = field(repr=False)  # in-scope training embeddings, for the novelty term

    @property
    def intents(self) -> list[str]:
        """The in-scope intents."""
        return [label for label in self.labels if label != self.oos_label]

    def scores(self, tfidf: sp.csr_matrix | None, embeddings: np.ndarray) -> np.ndarray:
        result = np.broadcast_to(self.intercept, (len(embeddings), len(self.labels))).astype(np.float64)
        if self.tfidf_weights is not None and tfidf is not None:
            result += tfidf @ self.tfidf_weights
        if self.embedding_weights is not None:
            result += embeddings @ self.embedding_weights
        return result


def check_embedder(trained_with: str | None, embedder: Embedder, subject: str = "this intent model") -> None:
    """A model's weights only mean something for the embedder it was trained with."""
    if embedder.name != trained_with:
        raise EmbedderMismatch(
            f"{subject} was trained on {trained_with!r} embeddings but the embedder given is "
            f"{embedder.name!r}; use the same embedding backend or train the model again",
            trained_with=trained_with, given=embedder.name)


class IntentModel:
    """A :class:`ModelState` with its embedder: predicts intents for one message or many."""

    def __init__(self, state: ModelState, embedder: Embedder, metadata: dict[str, Any] | None = None) -> None:
        check_embedder(state.embedder_name, embedder)
        self.state = state
        self.embedder = embedder
        self.metadata: dict[str, Any] = metadata or {}
        self._tfidf = TfidfApplier(state.vectorizer).transform if state.vectorizer is not None else None

    @property
    def embedder_name(self) -> str:
        return self.state.embedder_name

    @property
    def labels(self) -> tuple[str, ...]:
        return self.state.labels

    @property
    def intents(self) -> list[str]:
        return self.state.intents

    @property
    def oos_label(self) -> str | None:
        return self.state.oos_label

    def _predict_vectors(self, texts: Sequence[str], embeddings: np.ndarray, top_k: int) -> list[Prediction]:
        state = self.state
        tfidf = self._tfidf(texts) if self._tfidf is not None else None
        probs = probabilities(state.scores(tfidf, embeddings), state.temperature)
        similarity = neighbour_similarity(embeddings, state.reference, state.rule.neighbours)
        best = probs.argmax(axis=1)
        confidence = probs[np.arange(len(best)), best]
        rejected = state.rule.rejects(confidence, similarity)
        k = min(max(top_k, 1), len(state.labels))
        top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        out = []
        for row in range(len(texts)):
            label = state.labels[best[row]]
            out_of_scope = bool(rejected[row]) or label == state.oos_label
            out.append(Prediction(
                intent=None if out_of_scope else label,
                confidence=float(confidence[row]),
                out_of_scope=out_of_scope,
                ranking=[(state.labels[j], float(probs[row, j])) for j in top[row]],
            ))
        return out

    def predict(self, text: str, top_k: int = 5) -> Prediction:
        """The intent of one message (a few milliseconds, most of it the embedding)."""
        vector = self.embedder.embed_one(text)[np.newaxis, :]
        return self._predict_vectors([text], vector, top_k)[0]

    def predict_batch(self, texts: Sequence[str], top_k: int = 5) -> list[Prediction]:
        """The intents of many messages, in order."""
        out: list[Prediction] = []
        for start in range(0, len(texts), _BATCH):
            chunk = list(texts[start:start + _BATCH])
            out.extend(self._predict_vectors(chunk, self.embedder.embed(chunk), top_k))
        return out

    def predict_with_embeddings(self, texts: Sequence[str], embeddings: np.ndarray,
                                top_k: int = 5) -> list[Prediction]:
        """As :meth:`predict_batch` for texts already embedded by this model's embedder."""
        return self._predict_vectors(list(texts), np.asarray(embeddings, dtype=np.float32), top_k)

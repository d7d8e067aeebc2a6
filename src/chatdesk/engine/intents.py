"""Step 5: what the intent model says, and what the pipeline does with it.

A confident intent with a response template answers with it (greetings, thanks...). Otherwise the
model's belief about which article the question is about joins the retrieval score: an article
scores ``retrieval + w * P(its intents)``, and "don't know" is decided on that combined score with
a threshold calibrated for it (``benchmarks/retrieval.py --calibrate``). The model's own
out-of-scope rule is recorded, not obeyed: the combined score decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from chatdesk.retrieval.index import Hit


@dataclass(frozen=True)
class IntentGuess:
    intent: str | None
    confidence: float
    out_of_scope: bool = False
    #: Probability that the question is about each article (its intents' probabilities added up).
    articles: Mapping[str, float] = field(default_factory=dict)


class IntentClassifier(Protocol):
    version: str

    def guess(self, text: str, query_vector: np.ndarray) -> IntentGuess: ...


@dataclass(frozen=True)
class IntentPolicy:
    responses: Mapping[str, str] = field(default_factory=dict)
    response_confidence: float = 0.7
    article_weight: float = 0.1
    #: The "don't know" threshold on the combined score.
    min_score: float = 0.69

    def response_for(self, guess: IntentGuess | None) -> str | None:
        if guess is None or guess.intent is None or guess.confidence < self.response_confidence:
            return None
        return self.responses.get(guess.intent)

    def uses_articles(self, guess: IntentGuess | None) -> bool:
        """Whether the model's belief about the article joins the score (and its threshold applies)."""
        return guess is not None and bool(guess.articles) and self.article_weight > 0

    def rerank(self, hits: list[Hit], guess: IntentGuess | None) -> list[Hit]:
        """The hits scored with the model's belief added in, best first."""
        if guess is None or not self.uses_articles(guess):
            return hits
        weight, belief = self.article_weight, guess.articles
        combined = [replace(hit, score=hit.score + weight * belief.get(hit.chunk.slug, 0.0)) for hit in hits]
        return sorted(combined, key=lambda hit: -hit.score)

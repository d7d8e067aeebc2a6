"""Hybrid ranking of knowledge-base articles.

A chunk scores ``(cos(chunk) + max cos(sentence)) / 2 + w * bm25 / (bm25 + c)``; an article scores
its best chunk plus ``d`` times the cosine with the article's centroid (what the article as a whole
is about; a one-section article is not penalised). Every part is absolute (nothing is rescaled per
query), so one threshold can say "no good match". When another chunk of the same article scores
within ``m`` of its best, the answer may quote it too: the best section is often a neighbour of
the one that answers. ``w``, ``c``, ``d``, ``m`` and the threshold are calibrated by
``benchmarks/retrieval.py --calibrate`` on data the tests never see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chatdesk.retrieval.embedding import Embedder
from chatdesk.retrieval.lexical import LexicalIndex


@dataclass(frozen=True)
class IndexedChunk:
    chunk_id: int
    document_id: int
    slug: str
    title: str
    url: str
    heading: str
    text: str
    sentences: tuple[str, ...]
    sentence_vectors: np.ndarray = field(repr=False, compare=False)

    @property
    def section(self) -> str:
        """The section's own heading ("" for an article's introduction)."""
        return self.heading.split(" › ", 1)[1] if " › " in self.heading else ""


@dataclass(frozen=True)
class Ranking:
    """How the parts of the score are weighed."""

    lexical_weight: float
    lexical_saturation: float
    document_weight: float
    #: Another chunk of the article within this much of its best is quoted too (0: never).
    passage_margin: float = 0.0


@dataclass(frozen=True)
class Hit:
    chunk: IndexedChunk
    score: float
    dense: float
    lexical: float
    #: The article's runner-up chunk, when it scored nearly as well as ``chunk``.
    also: IndexedChunk | None = None


@dataclass(frozen=True)
class SearchResult:
    query: str
    query_vector: np.ndarray = field(repr=False)
    hits: list[Hit]

    @property
    def best_score(self) -> float:
        return self.hits[0].score if self.hits else float("-inf")


@dataclass(frozen=True)
class ChunkScores:
    dense: np.ndarray
    lexical: np.ndarray
    combined: np.ndarray


class HybridIndex:
    """An immutable index of one knowledge-base version; replaced, never mutated."""

    def __init__(self, chunks: list[IndexedChunk], vectors: np.ndarray, embedder: Embedder,
                 *, version: int, ranking: Ranking) -> None:
        self.chunks = chunks
        self.version = version
        self.ranking = ranking
        self.embedder = embedder
        dims = embedder.dimensions
        self._vectors = vectors.reshape(len(chunks), dims).astype(np.float32)
        counts = [max(len(c.sentences), 1) for c in chunks]
        self._sentence_vectors = np.concatenate(
            [c.sentence_vectors if len(c.sentences) else self._vectors[i : i + 1]
             for i, c in enumerate(chunks)]
        ) if chunks else np.zeros((0, dims), dtype=np.float32)
        self._sentence_offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._lexical = LexicalIndex([f"{c.heading}\n{c.text}" for c in chunks])
        self._documents = np.array([c.document_id for c in chunks], dtype=np.int64)
        self._members = {int(d): np.flatnonzero(self._documents == d) for d in np.unique(self._documents)}
        self._centroids = self._document_centroids()

    def _document_centroids(self) -> dict[int, np.ndarray]:
        centroids: dict[int, np.ndarray] = {}
        for document, members in self._members.items():
            mean = self._vectors[members].mean(axis=0)
            centroids[document] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return centroids

    def __len__(self) -> int:
        return len(self.chunks)

    def unknown_terms(self, text: str) -> int:
        """How many words of ``text`` that count the knowledge base never uses."""
        return self._lexical.unknown_terms(text)

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.embed_one(query)

    def chunk_scores(self, query: str, query_vector: np.ndarray,
                     ranking: Ranking | None = None) -> ChunkScores:
        ranking = ranking or self.ranking
        chunk_cos = self._vectors @ query_vector
        sentence_cos = np.maximum.reduceat(self._sentence_vectors @ query_vector,
                                           self._sentence_offsets)
        dense = (chunk_cos + sentence_cos) / 2
        bm25 = self._lexical.scores(query)
        lexical = bm25 / (bm25 + ranking.lexical_saturation)
        return ChunkScores(dense, lexical, dense + ranking.lexical_weight * lexical)

    def rank_documents(self, combined: np.ndarray, query_vector: np.ndarray, k: int,
                       ranking: Ranking | None = None) -> list[tuple[int, float]]:
        """The ``k`` best articles as (index of their best chunk, article score), best first."""
        ranking = ranking or self.ranking
        best: dict[int, int] = {}
        for i in np.argsort(-combined):
            best.setdefault(int(self._documents[i]), int(i))
        scored = [
            (chunk, float(combined[chunk])
             + ranking.document_weight * float(self._centroids[document] @ query_vector))
            for document, chunk in best.items()
        ]
        scored.sort(key=lambda pair: -pair[1])
        return scored[:k]

    def runner_up(self, combined: np.ndarray, best: int, ranking: Ranking | None = None) -> int | None:
        """The article's next best chunk after ``best``, if it is within the passage margin."""
        margin = (ranking or self.ranking).passage_margin
        if margin <= 0:
            return None
        others = self._members[int(self._documents[best])]
        others = others[others != best]
        if not len(others):
            return None
        second = int(others[np.argmax(combined[others])])
        return second if combined[second] >= combined[best] - margin else None

    def search(self, query: str, k: int = 5, query_vector: np.ndarray | None = None) -> SearchResult:
        """The best chunk of each of the ``k`` best articles, best first."""
        vector = self.embed_query(query) if query_vector is None else query_vector
        if not self.chunks:
            return SearchResult(query, vector, [])
        scores = self.chunk_scores(query, vector)
        hits = []
        for i, score in self.rank_documents(scores.combined, vector, k):
            second = self.runner_up(scores.combined, i)
            hits.append(Hit(self.chunks[i], score, float(scores.dense[i]), float(scores.lexical[i]),
                            also=None if second is None else self.chunks[second]))
        return SearchResult(query, vector, hits)

"""Match a question against the questions of curated answers (written or corrected by staff)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CuratedEntry:
    answer_id: int
    question: str
    answer: str
    intent: str | None = None


@dataclass(frozen=True)
class CuratedMatch:
    entry: CuratedEntry
    similarity: float
    matched_question: str


@dataclass(frozen=True)
class CuratedIndex:
    """Every way of asking each curated answer, as unit vectors; a match needs ``min_similarity``."""

    entries: tuple[CuratedEntry, ...]
    questions: tuple[str, ...]
    owners: np.ndarray = field(repr=False)  # question → index into entries
    vectors: np.ndarray = field(repr=False)
    min_similarity: float

    @classmethod
    def empty(cls, min_similarity: float) -> CuratedIndex:
        return cls((), (), np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.float32),
                   min_similarity)

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, query_vector: np.ndarray) -> CuratedMatch | None:
        if not self.questions:
            return None
        similarities = self.vectors @ query_vector
        best = int(np.argmax(similarities))
        if similarities[best] < self.min_similarity:
            return None
        return CuratedMatch(self.entries[int(self.owners[best])], float(similarities[best]),
                            self.questions[best])

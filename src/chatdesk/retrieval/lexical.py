"""BM25 over stemmed, stop-word-free tokens (bm25s + PyStemmer)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOPWORDS = frozenset(STOPWORDS_EN)
_stemmer = Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]
    return list(_stemmer.stemWords(words))


class LexicalIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        self._size = len(texts)
        self._bm25 = bm25s.BM25()
        if texts:
            self._bm25.index([tokenize(t) for t in texts], show_progress=False)

    def unknown_terms(self, text: str) -> int:
        """How many words of ``text`` that count (stemmed, not stop words) the index never saw."""
        vocabulary = self._bm25.vocab_dict if self._size else {}
        return sum(token not in vocabulary for token in tokenize(text))

    def scores(self, query: str) -> np.ndarray:
        """One BM25 score per indexed text (zeros when no query term is known)."""
        if self._size == 0:
            return np.zeros(0, dtype=np.float32)
        ids = self._bm25.get_tokens_ids(tokenize(query))
        if not ids:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

"""Keep each process's search index and curated answers in step with the knowledge-base version.

Curated answers count as knowledge: changing one bumps the same version, so every process
reloads and no cached reply from before the change is served.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from chatdesk.retrieval.curated import CuratedEntry, CuratedIndex
from chatdesk.retrieval.embedding import DIMENSIONS, Embedder
from chatdesk.retrieval.index import HybridIndex, IndexedChunk, Ranking
from chatdesk.store.models import Chunk, CuratedAnswer, CuratedQuestion, Document, KnowledgeBaseState


@dataclass(frozen=True)
class Knowledge:
    """What one knowledge-base version holds: the article index and the curated answers."""

    version: int
    index: HybridIndex
    curated: CuratedIndex


class EmbeddingMismatch(RuntimeError):
    """The stored vectors come from another model than the one this process runs."""


def kb_state(session: Session) -> tuple[int, str]:
    """The knowledge-base version and the model that embedded it."""
    row = session.execute(
        select(KnowledgeBaseState.version, KnowledgeBaseState.embedding_model)
        .where(KnowledgeBaseState.id == 1)
    ).first()
    return (row[0], row[1]) if row else (0, "")


def load_index(session: Session, embedder: Embedder, version: int, ranking: Ranking) -> HybridIndex:
    rows = session.execute(
        select(Chunk, Document.slug, Document.title, Document.url)
        .join(Document, Chunk.document_id == Document.id)
        .order_by(Document.id, Chunk.position)
    ).all()
    chunks: list[IndexedChunk] = []
    vectors = np.zeros((len(rows), DIMENSIONS), dtype=np.float32)
    for i, (chunk, slug, title, url) in enumerate(rows):
        vectors[i] = np.frombuffer(chunk.embedding, dtype=np.float32)
        sentence_vectors = np.frombuffer(chunk.sentence_embeddings, dtype=np.float32)
        chunks.append(
            IndexedChunk(
                chunk_id=chunk.id,
                document_id=chunk.document_id,
                slug=slug,
                title=title,
                url=url,
                heading=chunk.heading,
                text=chunk.text,
                sentences=tuple(chunk.sentences),
                sentence_vectors=sentence_vectors.reshape(len(chunk.sentences), DIMENSIONS),
            )
        )
    return HybridIndex(chunks, vectors, embedder, version=version, ranking=ranking)


def load_curated(session: Session, min_similarity: float) -> CuratedIndex:
    rows = session.execute(
        select(CuratedQuestion.text, CuratedQuestion.embedding, CuratedAnswer.id,
               CuratedAnswer.question, CuratedAnswer.answer, CuratedAnswer.intent)
        .join(CuratedAnswer, CuratedQuestion.answer_id == CuratedAnswer.id)
        .where(CuratedAnswer.active.is_(True))
        .order_by(CuratedAnswer.id, CuratedQuestion.id)
    ).all()
    if not rows:
        return CuratedIndex.empty(min_similarity)
    entries: dict[int, CuratedEntry] = {}
    for row in rows:
        entries.setdefault(row.id, CuratedEntry(row.id, row.question, row.answer, row.intent))
    order = list(entries)
    return CuratedIndex(
        entries=tuple(entries.values()),
        questions=tuple(row.text for row in rows),
        owners=np.array([order.index(row.id) for row in rows], dtype=np.int64),
        vectors=np.stack([np.frombuffer(row.embedding, dtype=np.float32) for row in rows]),
        min_similarity=min_similarity,
    )


class KnowledgeIndexHolder:
    """Rebuilt only when the knowledge-base version changes, never per request.

    The version is read from the database at most once per ``check_interval`` seconds, so a
    change made by another process is seen within that time; a change made through this
    process is seen at once (``invalidate``).
    """

    def __init__(self, check_interval: float = 1.0) -> None:
        self._knowledge: Knowledge | None = None
        self._lock = threading.Lock()
        self._check_interval = check_interval
        self._checked_at = float("-inf")

    def invalidate(self) -> None:
        self._checked_at = float("-inf")

    def current(self, session: Session, embedder: Embedder, ranking: Ranking,
                curated_min_similarity: float) -> Knowledge:
        knowledge = self._knowledge
        now = time.monotonic()
        if knowledge is not None and now - self._checked_at < self._check_interval:
            return knowledge
        version, model = kb_state(session)
        self._checked_at = now
        if model and model != embedder.name:
            raise EmbeddingMismatch(
                f"The knowledge base was embedded with {model}, but this server runs "
                f"{embedder.name}: run `chatdesk kb reembed` (or set CHATDESK_EMBEDDING_BACKEND back)."
            )
        if knowledge is not None and knowledge.version == version:
            return knowledge
        with self._lock:
            if self._knowledge is None or self._knowledge.version != version:
                self._knowledge = Knowledge(
                    version,
                    load_index(session, embedder, version, ranking),
                    load_curated(session, curated_min_similarity),
                )
            return self._knowledge

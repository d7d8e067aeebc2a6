"""Keep each process's search index in step with the knowledge-base version in the database."""

from __future__ import annotations

import threading
import time

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from chatdesk.retrieval.embedding import DIMENSIONS, Embedder
from chatdesk.retrieval.index import HybridIndex, IndexedChunk, Ranking
from chatdesk.store.models import Chunk, Document, KnowledgeBaseState


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


class KnowledgeIndexHolder:
    """Rebuilt only when the knowledge-base version changes, never per request.

    The version is read from the database at most once per ``check_interval`` seconds, so a
    change made by another process is seen within that time; a change made through this
    process is seen at once (``invalidate``).
    """

    def __init__(self, check_interval: float = 1.0) -> None:
        self._index: HybridIndex | None = None
        self._lock = threading.Lock()
        self._check_interval = check_interval
        self._checked_at = float("-inf")

    @property
    def loaded_version(self) -> int | None:
        return self._index.version if self._index is not None else None

    def invalidate(self) -> None:
        self._checked_at = float("-inf")

    def current(self, session: Session, embedder: Embedder, ranking: Ranking) -> HybridIndex:
        index = self._index
        now = time.monotonic()
        if index is not None and now - self._checked_at < self._check_interval:
            return index
        version, model = kb_state(session)
        self._checked_at = now
        if model and model != embedder.name:
            raise EmbeddingMismatch(
                f"The knowledge base was embedded with {model}, but this server runs "
                f"{embedder.name}: run `chatdesk kb reembed` (or set CHATDESK_EMBEDDING_BACKEND back)."
            )
        index = self._index
        if index is not None and index.version == version:
            return index
        with self._lock:
            if self._index is None or self._index.version != version:
                self._index = load_index(session, embedder, version, ranking)
            return self._index

"""Knowledge-base use cases: ingest files, search, read an article."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from chatdesk.extensions import db
from chatdesk.retrieval.chunking import EmbeddedChunk, chunk_document, embed_chunks
from chatdesk.retrieval.embedding import Embedder
from chatdesk.retrieval.index import HybridIndex, Ranking, SearchResult
from chatdesk.retrieval.parsing import SUPPORTED_SUFFIXES, decode_document, parse_text, slugify
from chatdesk.services.knowledge_index import Knowledge
from chatdesk.services.runtime import current_runtime
from chatdesk.store.models import Chunk, Document, KnowledgeBaseState, utcnow


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reembedded: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    version: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.reembedded)

    def as_dict(self) -> dict[str, object]:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "reembedded": self.reembedded, "errors": self.errors, "version": self.version}


def slug_for(path: Path) -> str:
    return slugify(path.stem) or "document"


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], dict[str, str]]:
    """The supported files under ``paths`` (folders are walked), and what was skipped and why."""
    files: list[Path] = []
    skipped: dict[str, str] = {}
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*"))
                         if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
        elif not path.exists():
            skipped[str(path)] = "no such file or folder"
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped[str(path)] = f"unsupported file type {path.suffix or '(none)'!r}"
        else:
            files.append(path)
    return files, skipped


def ingest_files(
    files: list[Path], embedder: Embedder, progress: Callable[[Path], None] | None = None
) -> IngestReport:
    """Add or update one article per file; unchanged files cost nothing. One transaction.

    If the stored articles were embedded by another model, they are all embedded again first:
    vectors of two models cannot be compared.
    """
    report = IngestReport()
    state = _state()
    if state.embedding_model and state.embedding_model != embedder.name:
        report.reembedded = _reembed_all(embedder)
    seen: dict[str, Path] = {}
    for path in files:
        slug = slug_for(path)
        try:
            if slug in seen:
                raise ValueError(f"same article name as {seen[slug]}")
            seen[slug] = path
            raw = path.read_bytes()
            outcome = _ingest_one(path, slug, raw, embedder)
            getattr(report, outcome).append(slug)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            report.errors[str(path)] = str(error)
        if progress is not None:
            progress(path)
    if report.changed:
        _new_version(state, embedder.name)
    db.session.commit()
    current_runtime().knowledge.invalidate()
    report.version = state.version
    return report


def _new_version(state: KnowledgeBaseState, embedding_model: str | None = None) -> KnowledgeBaseState:
    """The knowledge changed: caches keyed by the version and every process's index follow."""
    state.version += 1
    state.updated_at = utcnow()
    if embedding_model is not None:
        state.embedding_model = embedding_model
    return state


def _state() -> KnowledgeBaseState:
    state = db.session.get(KnowledgeBaseState, 1)
    if state is None:
        state = KnowledgeBaseState(id=1, version=0, embedding_model="")
        db.session.add(state)
    return state


def reembed(embedder: Embedder) -> IngestReport:
    """Embed every stored article again with ``embedder`` (after a change of model)."""
    report = IngestReport(reembedded=_reembed_all(embedder))
    state = _state()
    _new_version(state, embedder.name)
    db.session.commit()
    current_runtime().knowledge.invalidate()
    report.version = state.version
    return report


def _reembed_all(embedder: Embedder) -> list[str]:
    documents = list(db.session.scalars(select(Document).order_by(Document.slug)))
    for document in documents:
        parsed = parse_text(document.body, document.format, fallback_title=document.title)
        _store_chunks(document, embed_chunks(chunk_document(parsed), embedder))
    return [d.slug for d in documents]


def _ingest_one(path: Path, slug: str, raw: bytes, embedder: Embedder) -> str:
    content_hash = hashlib.sha256(raw).hexdigest()
    document = db.session.scalar(select(Document).where(Document.slug == slug))
    if document is not None and document.content_hash == content_hash:
        return "unchanged"
    kind = SUPPORTED_SUFFIXES[path.suffix.lower()]
    text = decode_document(raw)
    parsed = parse_text(text, kind, fallback_title=slug.replace("-", " ").capitalize())
    chunks = embed_chunks(chunk_document(parsed), embedder)
    if not chunks:
        raise ValueError("no text found")
    outcome = "updated"
    if document is None:
        document = Document(slug=slug)
        db.session.add(document)
        outcome = "added"
    document.title = parsed.title
    document.url = f"/kb/{slug}"
    document.source = str(path)
    document.format = kind
    document.body = text
    document.content_hash = content_hash
    _store_chunks(document, chunks)
    db.session.flush()
    return outcome


def _store_chunks(document: Document, chunks: list[EmbeddedChunk]) -> None:
    document.chunks.clear()
    for chunk in chunks:
        document.chunks.append(
            Chunk(
                position=chunk.draft.position,
                heading=chunk.draft.heading,
                text=chunk.draft.text,
                sentences=chunk.sentences,
                embedding=np.ascontiguousarray(chunk.vector).tobytes(),
                sentence_embeddings=np.ascontiguousarray(chunk.unit_vectors).tobytes(),
            )
        )


def current_knowledge() -> Knowledge:
    """This process's view of the current knowledge-base version (reloaded when it changes)."""
    runtime = current_runtime()
    settings = runtime.settings
    ranking = Ranking(settings.retrieval_lexical_weight, settings.retrieval_lexical_saturation,
                      settings.retrieval_document_weight, settings.retrieval_passage_margin)
    return runtime.knowledge.current(db.session(), runtime.embedder(), ranking,
                                     settings.curated_min_similarity)


def current_index() -> HybridIndex:
    return current_knowledge().index


def bump_version() -> int:
    """Mark the knowledge as changed (in the caller's transaction); caches and indexes follow."""
    state = _new_version(_state())
    db.session.flush()
    return state.version


def search(query: str, k: int = 5) -> SearchResult:
    return current_index().search(query, k=k)


def get_document(slug: str) -> Document | None:
    return db.session.scalar(select(Document).where(Document.slug == slug))


def list_documents() -> list[Document]:
    return list(db.session.scalars(select(Document).order_by(Document.title)))

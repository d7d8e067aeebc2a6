"""Split a parsed document into chunks that each keep their heading with their text."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chatdesk.retrieval.embedding import Embedder
from chatdesk.retrieval.parsing import ParsedDocument, Unit

MAX_CHUNK_WORDS = 160


@dataclass(frozen=True)
class ChunkDraft:
    position: int
    heading: str
    units: tuple[Unit, ...]

    @property
    def text(self) -> str:
        """Sentences run on; each bullet is a "- " line of its own."""
        lines: list[str] = []
        for unit in self.units:
            if unit.bullet:
                lines.append(f"- {unit.text}")
            elif lines and not lines[-1].startswith("- "):
                lines[-1] = f"{lines[-1]} {unit.text}"
            else:
                lines.append(unit.text)
        return "\n".join(lines)

    @property
    def embedding_text(self) -> str:
        """What the dense model sees: the heading path first, then the text."""
        return f"{self.heading}\n{self.text}"

    def unit_embedding_texts(self) -> list[str]:
        """A sentence alone can be ambiguous; its section heading gives it a subject."""
        section = self.heading.split(" › ")[-1]
        return [f"{section}: {u.text}" for u in self.units]


def _words(unit: Unit) -> int:
    return len(unit.text.split())


def chunk_document(document: ParsedDocument, max_words: int = MAX_CHUNK_WORDS) -> list[ChunkDraft]:
    """One chunk per section; a long section is cut between units, each part keeping the heading.

    Sections made only of pointers to other pages are left out: they would match every topic
    they point at.
    """
    chunks: list[ChunkDraft] = []
    for section in document.sections:
        if all(unit.refers_elsewhere for unit in section.units):
            continue  # a "Related help" list of links: it answers nothing itself
        heading = f"{document.title} › {section.heading}" if section.heading else document.title
        part: list[Unit] = []
        words = 0
        for unit in section.units:
            if part and words + _words(unit) > max_words:
                chunks.append(ChunkDraft(len(chunks), heading, tuple(part)))
                part, words = [], 0
            part.append(unit)
            words += _words(unit)
        if part:
            chunks.append(ChunkDraft(len(chunks), heading, tuple(part)))
    return chunks


@dataclass(frozen=True)
class EmbeddedChunk:
    draft: ChunkDraft
    vector: np.ndarray
    unit_vectors: np.ndarray

    @property
    def sentences(self) -> list[str]:
        """The units as stored: a bullet keeps a leading "- "."""
        return [f"- {u.text}" if u.bullet else u.text for u in self.draft.units]


def embed_chunks(drafts: list[ChunkDraft], embedder: Embedder) -> list[EmbeddedChunk]:
    """Vectors for each chunk and for each of its sentences, in two batched passes."""
    vectors = embedder.embed([d.embedding_text for d in drafts])
    unit_texts = [d.unit_embedding_texts() for d in drafts]
    unit_vectors = embedder.embed([t for texts in unit_texts for t in texts])
    embedded: list[EmbeddedChunk] = []
    offset = 0
    for draft, vector, texts in zip(drafts, vectors, unit_texts, strict=True):
        embedded.append(EmbeddedChunk(draft, vector, unit_vectors[offset : offset + len(texts)]))
        offset += len(texts)
    return embedded

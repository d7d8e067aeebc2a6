"""Build an in-memory search index from markdown texts, with the real embedder."""

from __future__ import annotations

import numpy as np

from chatdesk import Settings
from chatdesk.retrieval.chunking import chunk_document, embed_chunks
from chatdesk.retrieval.embedding import get_embedder
from chatdesk.retrieval.index import HybridIndex, IndexedChunk, Ranking
from chatdesk.retrieval.parsing import parse_markdown
from tests.conftest import MODELS_DIR

DEFAULT_RANKING = Ranking(lexical_weight=0.5, lexical_saturation=8.0, document_weight=0.25)


def build_index(articles: dict[str, str], ranking: Ranking = DEFAULT_RANKING,
                version: int = 1) -> HybridIndex:
    embedder = get_embedder(Settings().embedding_backend, MODELS_DIR)
    chunks: list[IndexedChunk] = []
    vectors: list[np.ndarray] = []
    for document_id, (slug, markdown) in enumerate(articles.items(), start=1):
        parsed = parse_markdown(markdown, slug)
        for embedded in embed_chunks(chunk_document(parsed), embedder):
            chunks.append(IndexedChunk(
                chunk_id=len(chunks) + 1, document_id=document_id, slug=slug, title=parsed.title,
                url=f"/kb/{slug}", heading=embedded.draft.heading, text=embedded.draft.text,
                sentences=tuple(embedded.sentences), sentence_vectors=embedded.unit_vectors))
            vectors.append(embedded.vector)
    return HybridIndex(chunks, np.array(vectors), embedder, version=version, ranking=ranking)


STORE = {
    "delivery": """# Delivery

## Delivery times

Standard delivery takes 2-4 working days and costs £3.95. Orders over £50 ship free.

## Express delivery

Express delivery arrives the next working day if you order by 8pm. It costs £5.95.
""",
    "returns": """# Returns

## Returns window

You can return unworn items within 30 days of delivery for a refund.

## How to send a return

Print the free label from your account and drop the parcel at any post office.
""",
    "payments": """# Payment methods

## Cards and wallets

We accept:

- Visa and Mastercard
- American Express
- PayPal and Apple Pay

## When you are charged

Your card is charged when your order is dispatched, not when you place it.
""",
}

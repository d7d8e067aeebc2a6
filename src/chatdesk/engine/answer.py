"""Shape a short answer from the best passage: its most relevant sentences, not the whole article."""

from __future__ import annotations

import numpy as np

from chatdesk.retrieval.index import Hit

MAX_ANSWER_CHARS = 420
MAX_UNITS = 3
# A unit joins the answer if it scores nearly as well as the best one.
RELEVANCE_MARGIN = 0.12


def is_bullet(unit: str) -> bool:
    return unit.startswith("- ")


def shape_answer(hit: Hit, query_vector: np.ndarray) -> str:
    sentences = hit.chunk.sentences
    if not sentences:
        return hit.chunk.text
    scores = hit.chunk.sentence_vectors @ query_vector
    ranked = [int(i) for i in np.argsort(-scores)]
    best = ranked[0]
    chosen = {best}
    for i in ranked[1:]:
        if len(chosen) >= MAX_UNITS or scores[i] < scores[best] - RELEVANCE_MARGIN:
            break
        if _length(sentences, chosen | {i}) <= MAX_ANSWER_CHARS:
            chosen.add(i)
    chosen = _with_opening(sentences, scores, best, chosen)
    lead = _list_lead(sentences, min(chosen))
    if lead is not None and _length(sentences, chosen | {lead}) <= MAX_ANSWER_CHARS + 120:
        chosen.add(lead)
    return _render([sentences[i] for i in sorted(chosen)])


def _with_opening(sentences: tuple[str, ...], scores: np.ndarray, best: int, chosen: set[int]) -> set[int]:
    """A section's opening sentence usually states its point ("Klarna Pay in 3 lets UK customers
    split an order..."): when it is nearly as relevant as the best sentence, it replaces the
    weakest of the others rather than being left out for want of room."""
    if 0 in chosen or is_bullet(sentences[0]) or scores[0] < scores[best] - RELEVANCE_MARGIN:
        return chosen

    def fits(units: set[int]) -> bool:
        return len(units) <= MAX_UNITS and _length(sentences, units) <= MAX_ANSWER_CHARS

    kept = chosen | {0}
    weakest_first = sorted(chosen - {best}, key=lambda i: scores[i])
    while weakest_first and not fits(kept):
        kept.discard(weakest_first.pop(0))
    return kept if fits(kept) else chosen


def _length(sentences: tuple[str, ...], units: set[int]) -> int:
    return sum(len(sentences[i]) for i in units)


def _list_lead(sentences: tuple[str, ...], first: int) -> int | None:
    """A bullet reads better after the sentence that introduces its list ("We accept:")."""
    if not is_bullet(sentences[first]):
        return None
    for i in range(first - 1, -1, -1):
        if not is_bullet(sentences[i]):
            return i if sentences[i].rstrip().endswith(":") else None
    return None


def _render(units: list[str]) -> str:
    lines: list[str] = []
    for unit in units:
        if is_bullet(unit):
            lines.append(f"• {unit[2:]}")
        elif lines and not lines[-1].startswith("•"):
            lines[-1] = f"{lines[-1]} {unit}"
        else:
            lines.append(unit)
    return "\n".join(lines)

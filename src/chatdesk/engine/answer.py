"""Shape a short answer from the best passage(s): their most relevant sentences, not the whole
article. When a second section of the same article scored nearly as well (``Hit.also``), its
opening follows, each part under its section's name: the best-scoring section is often a
neighbour of the one that answers, and a section's opening says what it is about."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from chatdesk.retrieval.index import Hit, IndexedChunk

# A unit joins the answer if it scores nearly as well as the best one.
RELEVANCE_MARGIN = 0.12


@dataclass(frozen=True)
class Budget:
    chars: int
    units: int


MAIN = Budget(chars=420, units=3)
#: A list's introducing sentence may take a passage this far past its budget.
LEAD_ALLOWANCE = 120
#: The first of two passages leaves room for the second.
FIRST_OF_TWO = Budget(chars=300, units=2)
#: No answer is longer, with two passages or one (a list's lead may take one beyond MAIN).
MAX_ANSWER_CHARS = 600
# "This article explains...": says where the answer is, not what it is.
_SIGNPOST = re.compile(r"^(?:this|the following) (?:article|page|guide|section)\b", re.IGNORECASE)


def is_bullet(unit: str) -> bool:
    return unit.startswith("- ")


def is_signpost(unit: str) -> bool:
    return bool(_SIGNPOST.match(unit))


def _may_answer(sentences: tuple[str, ...]) -> list[bool]:
    """Which units may be quoted: not a signpost, unless the passage holds nothing else."""
    signposts = [is_signpost(unit) for unit in sentences]
    return [True] * len(sentences) if all(signposts) else [not s for s in signposts]


def shape_answer(hit: Hit, query_vector: np.ndarray) -> str:
    if hit.also is None:
        return shape_passage(hit.chunk, query_vector, MAIN)
    first = _labelled(hit.chunk, shape_passage(hit.chunk, query_vector, FIRST_OF_TWO))
    room = MAX_ANSWER_CHARS - len(first) - len(_labelled(hit.also, "")) - 2
    second = shape_opening(hit.also, room)
    if not second:
        return shape_passage(hit.chunk, query_vector, MAIN)
    return f"{first}\n\n{_labelled(hit.also, second)}"


def _labelled(chunk: IndexedChunk, text: str) -> str:
    if not chunk.section:
        return text
    return f"{chunk.section}:\n{text}" if text.startswith("•") else f"{chunk.section}: {text}"


def shape_passage(chunk: IndexedChunk, query_vector: np.ndarray, budget: Budget = MAIN) -> str:
    sentences = chunk.sentences
    if not sentences:
        return chunk.text
    scores = np.where(_may_answer(sentences), chunk.sentence_vectors @ query_vector, -np.inf)
    ranked = [int(i) for i in np.argsort(-scores)]
    best = ranked[0]
    chosen = {best}
    for i in ranked[1:]:
        if len(chosen) >= budget.units or scores[i] < scores[best] - RELEVANCE_MARGIN:
            break
        if _length(sentences, chosen | {i}) <= budget.chars:
            chosen.add(i)
    chosen = _with_opening(sentences, scores, best, chosen, budget)
    lead = _list_lead(sentences, min(chosen))
    if lead is not None and _length(sentences, chosen | {lead}) <= budget.chars + LEAD_ALLOWANCE:
        chosen.add(lead)
    if is_bullet(sentences[best]):
        whole = _list_around(sentences, best)
        if _length(sentences, chosen | whole) <= budget.chars + LEAD_ALLOWANCE:
            chosen |= whole
    return _render([sentences[i] for i in sorted(chosen)])


def shape_opening(chunk: IndexedChunk, chars: int) -> str:
    """A section's first units, as many as fit in ``chars`` ("" if not even the first does)."""
    units = [unit for unit, ok in zip(chunk.sentences, _may_answer(chunk.sentences), strict=True) if ok]
    kept: list[str] = []
    for unit in units:
        if len(_render([*kept, unit])) > chars:
            break
        kept.append(unit)
    return _render(kept)


def _with_opening(sentences: tuple[str, ...], scores: np.ndarray, best: int, chosen: set[int],
                  budget: Budget) -> set[int]:
    """A section's opening sentence usually states its point ("Klarna Pay in 3 lets UK customers
    split an order..."): when it is nearly as relevant as the best sentence, it replaces the
    weakest of the others rather than being left out for want of room."""
    if 0 in chosen or is_bullet(sentences[0]) or scores[0] < scores[best] - RELEVANCE_MARGIN:
        return chosen

    def fits(units: set[int]) -> bool:
        return len(units) <= budget.units and _length(sentences, units) <= budget.chars

    kept = chosen | {0}
    weakest_first = sorted(chosen - {best}, key=lambda i: scores[i])
    while weakest_first and not fits(kept):
        kept.discard(weakest_first.pop(0))
    return kept if fits(kept) else chosen


def _length(sentences: tuple[str, ...], units: set[int]) -> int:
    return sum(len(sentences[i]) for i in units)


def _list_around(sentences: tuple[str, ...], bullet: int) -> set[int]:
    """The whole list a bullet belongs to, with the sentence introducing it: a short list reads
    better whole ("Step 3" alone, or one of four drop-off points, leaves the customer guessing)."""
    start, end = bullet, bullet
    while start > 0 and is_bullet(sentences[start - 1]):
        start -= 1
    while end + 1 < len(sentences) and is_bullet(sentences[end + 1]):
        end += 1
    lead = _list_lead(sentences, start)
    return set(range(start, end + 1)) | ({lead} if lead is not None else set())


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

"""Shape a short answer from the best passage(s): their most relevant sentences, not the whole
article. When a second section of the same article scored nearly as well (``Hit.also``), its
opening follows, each part under its section's name: the best-scoring section is often a
neighbour of the one that answers, and a section's opening says what it is about. A list is
quoted with the sentence that introduces it, and that sentence never without the list."""

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
    first = _choose(hit.chunk, query_vector, FIRST_OF_TWO)
    if _cuts_list(first) and not _cuts_list(alone := _choose(hit.chunk, query_vector, MAIN)):
        # The question is about what a list enumerates ("why isn't my code working?" → "check
        # whether: ..."): that list cut short to make room for a second section reads worse than
        # the list whole and no second section.
        return alone.render()
    labelled = _labelled(hit.chunk, first.render())
    room = MAX_ANSWER_CHARS - len(labelled) - len(_labelled(hit.also, "")) - 2
    second = shape_opening(hit.also, room)
    if not second:
        return shape_passage(hit.chunk, query_vector, MAIN)
    return f"{labelled}\n\n{_labelled(hit.also, second)}"


def _labelled(chunk: IndexedChunk, text: str) -> str:
    if not chunk.section:
        return text
    return f"{chunk.section}:\n{text}" if text.startswith("•") else f"{chunk.section}: {text}"


def shape_passage(chunk: IndexedChunk, query_vector: np.ndarray, budget: Budget = MAIN) -> str:
    return _choose(chunk, query_vector, budget).render()


@dataclass(frozen=True)
class _Choice:
    """The units of a passage chosen for an answer, and the best of them."""

    sentences: tuple[str, ...]
    scores: np.ndarray
    chosen: frozenset[int]
    best: int

    def render(self) -> str:
        return _render([self.sentences[i] for i in sorted(self.chosen)])


def _choose(chunk: IndexedChunk, query_vector: np.ndarray, budget: Budget) -> _Choice:
    sentences = chunk.sentences
    if not sentences:
        return _Choice((chunk.text,), np.zeros(1), frozenset({0}), 0)
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
    limit = budget.chars + LEAD_ALLOWANCE
    around = _list_of(sentences, best)
    if around is not None and _length(sentences, chosen | around.units) <= limit:
        chosen |= around.units
    return _Choice(sentences, scores, frozenset(_lists_complete(sentences, scores, chosen, best, limit)),
                   best)


def _cuts_list(choice: _Choice) -> bool:
    """Whether the best unit's list answers as a whole (its lead is nearly as relevant as the
    best unit: the question asks for what the list enumerates) but is quoted only in part."""
    around = _list_of(choice.sentences, choice.best)
    if around is None or around.units <= choice.chosen:
        return False
    return (around.lead is not None
            and choice.scores[around.lead] >= choice.scores[choice.best] - RELEVANCE_MARGIN)


def shape_opening(chunk: IndexedChunk, chars: int) -> str:
    """A section's first units, as many as fit in ``chars`` ("" if not even the first does);
    a list's lead only with at least its first item."""
    sentences = chunk.sentences
    allowed = _may_answer(sentences)
    kept: list[int] = []
    for i in range(len(sentences)):
        if not allowed[i]:
            continue
        if len(_render([sentences[j] for j in [*kept, i]])) > chars:
            break
        kept.append(i)
    if kept and _leads_list(sentences, kept[-1]):
        kept.pop()  # its items did not fit: a lead alone promises what it does not give
    return _render([sentences[i] for i in kept])


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


def _length(sentences: tuple[str, ...], units: set[int] | frozenset[int]) -> int:
    return sum(len(sentences[i]) for i in units)


@dataclass(frozen=True)
class _List:
    """A run of bullets and the sentence introducing it ("We accept:"), if there is one."""

    lead: int | None
    items: range

    @property
    def units(self) -> set[int]:
        return set(self.items) | ({self.lead} if self.lead is not None else set())


def _list_of(sentences: tuple[str, ...], unit: int) -> _List | None:
    """The list ``unit`` is an item of, or introduces."""
    if is_bullet(sentences[unit]):
        start, end = unit, unit
        while start > 0 and is_bullet(sentences[start - 1]):
            start -= 1
        while end + 1 < len(sentences) and is_bullet(sentences[end + 1]):
            end += 1
        lead = start - 1 if start > 0 and _leads_list(sentences, start - 1) else None
        return _List(lead, range(start, end + 1))
    if _leads_list(sentences, unit):
        return _list_of(sentences, unit + 1)
    return None


def _leads_list(sentences: tuple[str, ...], unit: int) -> bool:
    return (not is_bullet(sentences[unit]) and sentences[unit].rstrip().endswith(":")
            and unit + 1 < len(sentences) and is_bullet(sentences[unit + 1]))


def _lists_complete(sentences: tuple[str, ...], scores: np.ndarray, chosen: set[int], best: int,
                    limit: int) -> set[int]:
    """Each quoted item comes after its own list's lead, so that it reads as what it is (an item
    of the Full Bloom tier's list is not quoted as one of the Bloom tier's); a lead comes with its
    most relevant items that fit, or not at all ("Bloom members get everything in Bud, plus:"
    alone answers nothing)."""
    chosen = set(chosen)
    lists = {around for unit in sorted(chosen) if (around := _list_of(sentences, unit)) is not None}
    for around in sorted(lists, key=lambda a: a.items.start):
        if around.lead is None:
            continue
        if around.lead not in chosen and _length(sentences, chosen | {around.lead}) <= limit:
            chosen.add(around.lead)
        if around.lead not in chosen:
            chosen -= set(around.items) - {best}  # no room for its lead: read under another, it misleads
        elif not chosen & set(around.items):
            item = next((i for i in sorted(around.items, key=lambda i: -scores[i])
                         if _length(sentences, chosen | {i}) <= limit), None)
            if item is not None:
                chosen.add(item)
            else:
                chosen.discard(around.lead)
    return chosen | {best}


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

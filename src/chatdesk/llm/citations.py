"""Citations: which passages an answer cites, whether it may be shown, and the text without markers.

Markers look like ``[1]``, ``[1, 2]``, ``[1][3]`` (``[passage 1]`` is accepted too). The text
shown to customers has them **removed**, always, streamed or not (the sources are shown beside the
answer instead); ``GroundedAnswer.raw_text`` keeps them for logs and for clients that render
their own footnotes. An answer is rejected (:class:`UngroundedAnswer`) when passages were given
and it cites none, or when it cites a number that was not given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from chatdesk.llm.errors import UngroundedAnswer
from chatdesk.llm.prompts import Passage

_NUMBER_LIST = r"(?:(?:passage|source)\s*)?\d+(?:\s*[,;]\s*(?:(?:passage|source)\s*)?\d+)*"
MARKER = re.compile(r"\[\s*(" + _NUMBER_LIST + r")\s*\]", re.IGNORECASE)
# A marker with the blanks before it, as removed from the text.
_REMOVED = re.compile(r"[ \t]*\[\s*" + _NUMBER_LIST + r"\s*\]", re.IGNORECASE)
# What a marker can look like while it is still arriving (bounded, so text is never held long).
_PARTIAL = re.compile(r"[ \t]*\[[ \w,;]{0,40}")

_DECLINE = re.compile(
    r"\b(?:(?:don't|do not|can't|cannot|couldn't|could not|am not able to)\s+"
    r"(?:know|find|answer|help|see|say)|not sure|no information|not (?:covered|mentioned)"
    r"|(?:a|real) (?:person|human)|(?:colleague|team member|agent)s?\b)",
    re.IGNORECASE)


@dataclass(frozen=True)
class GroundedAnswer:
    """An answer whose every citation is one of the passages it was given."""

    #: For the customer: citation markers removed.
    text: str
    #: As the model wrote it, markers included.
    raw_text: str
    #: Cited passage numbers, in order of first citation.
    citations: tuple[int, ...]
    #: The cited passages, in the same order.
    sources: tuple[Passage, ...]

    @property
    def source_ids(self) -> tuple[str, ...]:
        """The cited sources' ids, each once (two passages can come from one article)."""
        return tuple(dict.fromkeys(p.source_id for p in self.sources))


def cited_numbers(text: str) -> tuple[int, ...]:
    """Every passage number cited, each once, in order of first appearance."""
    numbers: dict[int, None] = {}
    for marker in MARKER.finditer(text):
        for number in re.findall(r"\d+", marker.group(1)):
            numbers.setdefault(int(number), None)
    return tuple(numbers)


def looks_like_decline(text: str) -> bool:
    """Whether an uncited answer reads like "I don't know, shall I get a person?" (for counting)."""
    return _DECLINE.search(text) is not None


def check_citations(text: str, passages: int) -> tuple[int, ...]:
    """The passage numbers ``text`` cites; :class:`UngroundedAnswer` if one was not given."""
    numbers = cited_numbers(text)
    unknown = tuple(n for n in numbers if not 1 <= n <= passages)
    if unknown:
        raise UngroundedAnswer(
            f"The answer cites passage(s) {', '.join(map(str, unknown))}, but only "
            f"{passages} were given.", reason="unknown_citation", text=text, unknown=unknown)
    return numbers


def ground(text: str, passages: Sequence[Passage]) -> GroundedAnswer:
    """Check an answer's citations against the passages sent (``passages[n - 1]`` is ``[n]``).

    Raises :class:`UngroundedAnswer` when the caller should use the retrieval answer instead.
    Without passages an uncited answer is accepted (there was nothing to cite).
    """
    numbers = check_citations(text, len(passages))
    if passages and not numbers:
        reason = "declined" if looks_like_decline(text) else "no_citation"
        raise UngroundedAnswer("The answer cites none of the passages it was given.",
                               reason=reason, text=text)
    return GroundedAnswer(text=strip_markers(text), raw_text=text, citations=numbers,
                          sources=tuple(passages[n - 1] for n in numbers))


def strip_markers(text: str) -> str:
    """The text without citation markers (and the blanks before them), as customers see it."""
    stripper = MarkerStripper()
    return (stripper.feed(text) + stripper.flush()).strip()


class MarkerStripper:
    """Removes citation markers from streamed text, even when a marker is split across deltas.

    Text that could be the start of a marker is held back until it is known (at most ~40
    characters), so the pieces joined are what :func:`strip_markers` returns, up to the blanks
    at either end.
    """

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        out: list[str] = []
        for char in piece:
            candidate = self._held + char
            if _REMOVED.fullmatch(candidate):
                self._held = ""  # a whole marker: drop it with the blanks before it
            elif _PARTIAL.fullmatch(candidate) or (not self._held.strip() and char in " \t"):
                self._held = candidate
            elif self._held:
                out.append(self._held)
                self._held = ""
                out.append(self.feed(char))  # the char may itself start a marker
            else:
                out.append(char)
        return "".join(out)

    def flush(self) -> str:
        """What is still held at the end of the stream (a "[" that never became a marker)."""
        held, self._held = self._held, ""
        return held

    def strip(self, pieces: Iterable[str]) -> Iterator[str]:
        """The pieces with markers removed; empty pieces are skipped."""
        for piece in pieces:
            out = self.feed(piece)
            if out:
                yield out
        rest = self.flush()
        if rest:
            yield rest

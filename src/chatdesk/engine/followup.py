"""Make a follow-up ("and for express?", "do they expire?") searchable by joining it to the
previous question."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from chatdesk.engine.types import AnsweredBy

_FOLLOW_UP = re.compile(
    r"^\s*(?:and|also|or|but|what about|how about|what if|same for|does that|is that|"
    r"can i do that|and if|then)\b",
    re.IGNORECASE,
)
# A short message about "it" or "they" means what the previous question was about.
_ANAPHOR = re.compile(r"\b(?:it|its|they|them|their|theirs|that|this|those|these)\b", re.IGNORECASE)
_MAX_FOLLOW_UP_WORDS = 8
_MAX_NEW_WORDS = 1
#: Replies made from what the bot knows: the questions behind them are context for a follow-up.
_KNOWLEDGE_ANSWERS = frozenset({AnsweredBy.RETRIEVAL, AnsweredBy.LLM, AnsweredBy.CURATED})


def answered_questions(messages: Sequence[tuple[str, str, str | None]]) -> tuple[str, ...]:
    """Of the messages (role, text, answered_by), oldest first, the customer's that the bot
    answered from what it knows: what a follow-up can lean on ("ok thanks", or a question it
    did not know, is no context)."""
    return tuple(
        text for (role, text, _), (reply_role, _, answered_by) in zip(messages, messages[1:], strict=False)
        if role == "customer" and reply_role == "bot" and answered_by in _KNOWLEDGE_ANSWERS
    )


def _new_subject(text: str, unknown_terms: Callable[[str], int]) -> bool:
    """A message with words the knowledge base never uses ("what is the capital of Peru?",
    "and football?") is about something new, not a follow-up; one such word is allowed
    ("can it go in the dryer?")."""
    return unknown_terms(text) > _MAX_NEW_WORDS


def contextual_query(text: str, previous_questions: Sequence[str],
                     unknown_terms: Callable[[str], int] = lambda text: 0) -> tuple[str, bool]:
    """The query to search and whether it stands alone (only those may be cached): a short
    message that starts like a follow-up or speaks of "it" or "they" is joined to the previous
    question, unless it is about something new. When the previous question was a follow-up
    itself ("can I buy a gift card?" → "do they expire?" → "can I use them in shops?"), the
    question that set the subject comes first."""
    if not previous_questions or not _leans_on_before(text, unknown_terms):
        return text, True
    last = len(previous_questions) - 1
    subject = last
    while subject > 0 and _leans_on_before(previous_questions[subject], unknown_terms):
        subject -= 1
    context = [previous_questions[subject]] + ([previous_questions[last]] if last != subject else [])
    return " ".join([*context, text]), False


def _leans_on_before(text: str, unknown_terms: Callable[[str], int]) -> bool:
    return (len(text.split()) <= _MAX_FOLLOW_UP_WORDS
            and bool(_FOLLOW_UP.match(text) or _ANAPHOR.search(text))
            and not _new_subject(text, unknown_terms))


def normalise(text: str) -> str:
    """The cache's view of a question: case, spacing and trailing punctuation do not matter."""
    return re.sub(r"\s+", " ", text.lower()).strip().rstrip("?!. ")

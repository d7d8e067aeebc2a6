"""Make a follow-up ("and for express?", "do they expire?") searchable by joining it to the
previous question."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from chatdesk.engine.types import AnsweredBy, Asked

_FOLLOW_UP = re.compile(
    r"^\s*(?:and|also|or|but|what about|how about|what if|same for|does that|is that|"
    r"can i do that|and if|then)\b",
    re.IGNORECASE,
)
# A short message about "it" or "they" means what the previous question was about.
_ANAPHOR = re.compile(r"\b(?:it|its|they|them|their|theirs|that|this|those|these)\b", re.IGNORECASE)
_MAX_FOLLOW_UP_WORDS = 8
_MAX_NEW_WORDS = 1
#: A second look is only for messages made of words the knowledge base uses: "do you do an NHS
#: discount?" after a question about student discounts is a new subject, not a follow-up.
_MAX_NEW_WORDS_SECOND_LOOK = 0
#: Replies made from what the bot knows: the questions behind them are context for a follow-up.
_KNOWLEDGE_ANSWERS = frozenset({AnsweredBy.RETRIEVAL, AnsweredBy.LLM, AnsweredBy.CURATED})


def answered_questions(messages: Sequence[tuple[str, str, str | None, bool]]) -> tuple[Asked, ...]:
    """Of the messages (role, text, answered_by, used_context), oldest first, the customer's that
    the bot answered from what it knows: what a follow-up can lean on ("ok thanks", or a question
    it did not know, is no context); each with whether it was searched alone."""
    return tuple(
        Asked(text, stood_alone=not used_context)
        for (role, text, _, _), (reply_role, _, answered_by, used_context)
        in zip(messages, messages[1:], strict=False)
        if role == "customer" and reply_role == "bot" and answered_by in _KNOWLEDGE_ANSWERS
    )


def _new_subject(text: str, unknown_terms: Callable[[str], int]) -> bool:
    """A message with words the knowledge base never uses ("what is the capital of Peru?",
    "and football?") is about something new, not a follow-up; one such word is allowed
    ("can it go in the dryer?")."""
    return unknown_terms(text) > _MAX_NEW_WORDS


def contextual_query(text: str, previous_questions: Sequence[Asked],
                     unknown_terms: Callable[[str], int] = lambda text: 0) -> tuple[str, bool]:
    """The query to search and whether it stands alone (only those may be cached): a short
    message that starts like a follow-up or speaks of "it" or "they" is joined to the previous
    question, unless it is about something new."""
    if not previous_questions or not _leans_on_before(text, unknown_terms):
        return text, True
    return with_context(text, previous_questions, unknown_terms), False


def second_look(text: str, previous_questions: Sequence[Asked],
                unknown_terms: Callable[[str], int]) -> str | None:
    """For a short message that found nothing alone and uses only words the knowledge base uses
    ("how long have I got?" after a question about returns): the query to try with the earlier
    questions, or None."""
    if (not previous_questions or len(text.split()) > _MAX_FOLLOW_UP_WORDS
            or unknown_terms(text) > _MAX_NEW_WORDS_SECOND_LOOK):
        return None
    return with_context(text, previous_questions, unknown_terms)


def with_context(text: str, previous_questions: Sequence[Asked],
                 unknown_terms: Callable[[str], int]) -> str:
    """``text`` after the previous question; when that was a follow-up itself ("can I buy a gift
    card?" → "do they expire?" → "can I use them in shops?"), after the question that set the
    subject too."""

    def stood_alone(question: Asked) -> bool:
        if question.stood_alone is not None:
            return question.stood_alone
        return not _leans_on_before(question.text, unknown_terms)

    last = len(previous_questions) - 1
    subject = last
    while subject > 0 and not stood_alone(previous_questions[subject]):
        subject -= 1
    context = [previous_questions[i].text for i in sorted({subject, last})]
    return " ".join([*context, text])


def _leans_on_before(text: str, unknown_terms: Callable[[str], int]) -> bool:
    """A follow-up by its form: short, and starting like one or speaking of "it" or "they"."""
    return (len(text.split()) <= _MAX_FOLLOW_UP_WORDS
            and bool(_FOLLOW_UP.match(text) or _ANAPHOR.search(text))
            and not _new_subject(text, unknown_terms))


def normalise(text: str) -> str:
    """The cache's view of a question: case, spacing and trailing punctuation do not matter."""
    return re.sub(r"\s+", " ", text.lower()).strip().rstrip("?!. ")

"""Make a follow-up ("and for express?", "how much is it?") searchable by joining it to the
previous question: at once when it starts like a follow-up, or on a second look when it found
nothing on its own."""

from __future__ import annotations

import re
from collections.abc import Sequence

_FOLLOW_UP = re.compile(
    r"^\s*(?:and|also|or|but|what about|how about|what if|same for|does that|is that|"
    r"can i do that|and if|then)\b",
    re.IGNORECASE,
)
# A short message about "it" or "they" means what the previous question was about.
_ANAPHOR = re.compile(r"\b(?:it|its|they|them|their|theirs|that|this|those|these)\b", re.IGNORECASE)
_MAX_FOLLOW_UP_WORDS = 8


def contextual_query(text: str, previous_questions: Sequence[str]) -> tuple[str, bool]:
    """The query to search and whether it stands alone (only those may be cached)."""
    if (previous_questions and len(text.split()) <= _MAX_FOLLOW_UP_WORDS
            and (_FOLLOW_UP.match(text) or _ANAPHOR.search(text))):
        return f"{previous_questions[-1]} {text}", False
    return text, True


def with_context(text: str, previous_questions: Sequence[str]) -> str | None:
    """A short message joined to the previous question, for a second look when it found nothing
    on its own ("how much is it?" after "do you ship to France?"); None when there is no context
    or the message is too long to be a follow-up."""
    if not previous_questions or len(text.split()) > _MAX_FOLLOW_UP_WORDS:
        return None
    return f"{previous_questions[-1]} {text}"


def normalise(text: str) -> str:
    """The cache's view of a question: case, spacing and trailing punctuation do not matter."""
    return re.sub(r"\s+", " ", text.lower()).strip().rstrip("?!. ")

"""Make a follow-up ("and for express?") searchable by joining it to the previous question."""

from __future__ import annotations

import re
from collections.abc import Sequence

_FOLLOW_UP = re.compile(
    r"^\s*(?:and|also|or|but|what about|how about|what if|same for|does that|is that|"
    r"can i do that|and if|then)\b",
    re.IGNORECASE,
)
_MAX_FOLLOW_UP_WORDS = 8


def contextual_query(text: str, previous_questions: Sequence[str]) -> tuple[str, bool]:
    """The query to search and whether it stands alone (only those may be cached)."""
    if previous_questions and len(text.split()) <= _MAX_FOLLOW_UP_WORDS and _FOLLOW_UP.match(text):
        return f"{previous_questions[-1]} {text}", False
    return text, True


def normalise(text: str) -> str:
    """The cache's view of a question: case, spacing and trailing punctuation do not matter."""
    return re.sub(r"\s+", " ", text.lower()).strip().rstrip("?!. ")

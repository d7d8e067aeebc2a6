"""When the customer wants a person (pipeline step 3), decided by rules, never by a model's output."""

from __future__ import annotations

import re

_PERSON = r"(?:human|person|agent|someone|somebody|representative|rep|operator|staff|people|advisor|adviser)"
_ASKS_FOR_PERSON = re.compile(
    rf"\b(?:talk|speak|chat|connect|transfer|put)\w*\s+(?:me\s+)?(?:to|with|through to)\s+"
    rf"(?:a\s+|an\s+|the\s+|your\s+|some\s+|real\s+|actual\s+|live\s+)*(?:\w+\s+)?{_PERSON}\b"
    rf"|\b(?:real|live|actual)\s+{_PERSON}\b"
    rf"|\b(?:human|agent|person|operator)\s*(?:please|pls|now)\b"
    rf"|^\s*(?:a\s+)?(?:human|agent|person|operator|representative)\s*[.!?]*\s*$"
    rf"|\bcustomer\s+service\s+(?:rep|representative|agent)\b"
    rf"|\b(?:want|need|get)\s+(?:a\s+|an\s+)?(?:human|agent|person|representative)\b",
    re.IGNORECASE,
)
_DECLINES = re.compile(
    r"\b(?:don'?t|do not|no need to|not|never)\s+(?:\w+\s+){0,3}(?:talk|speak|want|need)",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^\s*(?:yes|yeah|yep|yup|sure|ok|okay|please|yes please|please do|go ahead|do it|"
    r"that would be great|sounds good)\b(?:[\s!.,]*(?:please|thanks|thank you))*[\s!.]*$",
    re.IGNORECASE,
)


def asks_for_human(text: str) -> bool:
    return bool(_ASKS_FOR_PERSON.search(text)) and not _DECLINES.search(text)


def accepts_offer(text: str) -> bool:
    """A short "yes" right after the bot offered a person."""
    return bool(_YES.match(text))


def escalates_after(previous_fallbacks: int, streak_limit: int) -> bool:
    """This reply would be the ``streak_limit``-th fallback in a row: hand off instead of looping."""
    return previous_fallbacks + 1 >= streak_limit

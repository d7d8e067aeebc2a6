"""Input checks, PII redaction and prompt-injection flags (pipeline step 2)."""

from __future__ import annotations

import re

from chatdesk.errors import InvalidInput

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # a whole field that is one address
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s().-]{7,}\d\b")
_INJECTION = re.compile(
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) (?:instructions|prompts?|rules)"
    r"|disregard (?:your|the|all) (?:instructions|rules)"
    r"|(?:reveal|show|print|repeat) (?:me )?(?:your|the) (?:system )?(?:prompt|instructions)"
    r"|\byou are now\b|\bact as (?:an? )?(?:unfiltered|jailbroken)\b|\bDAN mode\b",
    re.IGNORECASE,
)

INJECTION_FLAG = "prompt_injection"


def clean_text(text: str, max_chars: int, field: str = "text", label: str = "message text") -> str:
    """The text to store, or ``InvalidInput`` saying what is wrong with it (as ``label``, at
    ``field`` of the body)."""
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(f"The {label} is empty.", errors=[_field_error(field, "must not be empty")])
    if len(stripped) > max_chars:
        raise InvalidInput(
            f"The {label} is {len(stripped)} characters long; the limit is {max_chars}.",
            errors=[_field_error(field, f"must be at most {max_chars} characters")],
        )
    if "\x00" in stripped:
        raise InvalidInput(f"The {label} contains a NUL character.",
                           errors=[_field_error(field, "must not contain NUL characters")])
    return redact_cards(stripped)


def check_email(email: str) -> str:
    """The address, if it looks like one (a customer's or a staff member's), else ``InvalidInput``."""
    if not _ADDRESS.match(email):
        raise InvalidInput(f"{email!r} is not an email address.",
                           errors=[_field_error("email", "not an email address")])
    return email


def _field_error(field: str, message: str) -> dict[str, object]:
    return {"loc": ["body", field], "msg": message}


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def redact_cards(text: str) -> str:
    """Card numbers are never kept, not even in the stored conversation."""

    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return "[card number]" if 13 <= len(digits) <= 19 and _luhn_valid(digits) else match.group()

    return _CARD.sub(replace, text)


def redact_pii(text: str) -> str:
    """Text fit for an LLM, a log line or an export: emails, cards and phone numbers masked."""
    text = _EMAIL.sub("[email]", redact_cards(text))
    return _PHONE.sub("[phone]", text)


def flags_for(text: str) -> list[str]:
    return [INJECTION_FLAG] if _INJECTION.search(text) else []

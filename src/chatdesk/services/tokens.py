"""Secrets handed out once (conversation tokens, API keys): only their hash is kept."""

from __future__ import annotations

import hashlib
import secrets


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str = "") -> tuple[str, str]:
    """A new secret and its hash."""
    secret = prefix + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)

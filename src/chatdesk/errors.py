"""Errors every layer may raise; the API turns them into problem+json responses."""

from __future__ import annotations

from typing import Any


class ConfigError(RuntimeError):
    """The settings cannot work; the message says how to fix them."""


class ChatdeskError(Exception):
    """A request that cannot be served as asked. ``status`` is the HTTP status it maps to."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(ChatdeskError):
    status = 422
    title = "Invalid input"


class NotFound(ChatdeskError):
    status = 404
    title = "Not found"


class Unauthorized(ChatdeskError):
    status = 401
    title = "Unauthorized"


class Forbidden(ChatdeskError):
    status = 403
    title = "Forbidden"


class Conflict(ChatdeskError):
    status = 409
    title = "Conflict"

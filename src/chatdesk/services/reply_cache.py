"""The reply cache behind Flask-Caching (in-process, or Redis when configured); never fatal."""

from __future__ import annotations

from typing import Any

import structlog

from chatdesk.extensions import cache

log = structlog.get_logger(__name__)


class ReplyCache:
    """A cache that is down means a slower reply, not a failed one."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            value = cache.get(key)
        except Exception as error:  # any backend failure degrades to a miss
            log.warning("reply_cache.get_failed", error=str(error))
            return None
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        try:
            cache.set(key, value, timeout=self.ttl)
        except Exception as error:
            log.warning("reply_cache.set_failed", error=str(error))

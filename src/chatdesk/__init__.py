"""chatdesk: a self-hosted customer-service chatbot platform."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Settings", "__version__", "create_app"]

if TYPE_CHECKING:
    from chatdesk.app import create_app
    from chatdesk.config import Settings


def __getattr__(name: str) -> Any:
    """Loaded on first use, so ``import chatdesk`` stays light (``chatdesk serve`` patches the
    standard library for gevent before the app's dependencies are imported)."""
    if name == "create_app":
        from chatdesk.app import create_app

        return create_app
    if name == "Settings":
        from chatdesk.config import Settings

        return Settings
    raise AttributeError(f"module 'chatdesk' has no attribute {name!r}")

"""Adapters by name. An adapter whose package is not installed is listed as unavailable, with the
reason, and only a configuration that asks for it fails; importing ``chatdesk.llm`` never does.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from chatdesk.errors import ConfigError
from chatdesk.llm.config import LLMConfig

if TYPE_CHECKING:
    from chatdesk.llm.base import Provider

P = TypeVar("P", bound="type[Provider]")


@dataclass(frozen=True)
class Adapter:
    name: str
    factory: Callable[..., Provider]
    #: Top-level packages the adapter imports.
    requires: tuple[str, ...] = ()

    def unavailable_reason(self) -> str | None:
        missing = [package for package in self.requires if importlib.util.find_spec(package) is None]
        if missing:
            return (f"the {self.name!r} LLM adapter needs the {', '.join(missing)} package(s): "
                    f"pip install {' '.join(missing)}")
        return None


_ADAPTERS: dict[str, Adapter] = {}


def register(name: str, *, requires: tuple[str, ...] = ()) -> Callable[[P], P]:
    """Class decorator: make a :class:`Provider` subclass available under ``name``."""

    def decorate(cls: P) -> P:
        _ADAPTERS[name] = Adapter(name, cls, requires)
        return cls

    return decorate


def _load_builtin_adapters() -> None:
    import chatdesk.llm.openai_provider  # noqa: F401  (registers "openai" and "azure")


def adapters() -> dict[str, str | None]:
    """Every adapter's name, with ``None`` when usable or the reason it is not."""
    _load_builtin_adapters()
    return {name: adapter.unavailable_reason() for name, adapter in sorted(_ADAPTERS.items())}


def build_provider(config: LLMConfig | None, **kwargs: Any) -> Provider | None:
    """The configured provider, or None when no LLM is configured (answers then come from the
    knowledge base, as without this package). ``kwargs`` go to the adapter (tests inject
    ``sleep``, ``clock``, ``counter``...).

    Raises :class:`ConfigError`, saying how to fix it, when an LLM is configured but cannot work.
    """
    if config is None or not config.is_configured:
        return None
    _load_builtin_adapters()
    adapter = _ADAPTERS.get(config.provider_name)
    if adapter is None:
        raise ConfigError(f"Unknown LLM provider {config.provider_name!r}; "
                          f"choose one of: {', '.join(sorted(_ADAPTERS))}.")
    reason = adapter.unavailable_reason()
    if reason is not None:
        raise ConfigError(f"An LLM is configured but {reason}.")
    return adapter.factory(config, **kwargs)

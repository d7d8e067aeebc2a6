"""Per-app state the services share: settings and long-lived, lazily built objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app

from chatdesk.config import Settings
from chatdesk.engine.business_hours import BusinessHours, BusinessHoursError
from chatdesk.errors import ConfigError
from chatdesk.retrieval.embedding import Embedder, get_embedder
from chatdesk.services.events import LocalEventBus, RedisEventBus
from chatdesk.services.intent_models import IntentModelHolder
from chatdesk.services.knowledge_index import KnowledgeIndexHolder
from chatdesk.services.llm import ProviderHolder

EXTENSION_KEY = "chatdesk"


@dataclass
class Runtime:
    settings: Settings
    business_hours: BusinessHours
    events: LocalEventBus
    llm: ProviderHolder
    knowledge: KnowledgeIndexHolder = field(default_factory=KnowledgeIndexHolder)
    intents: IntentModelHolder = field(default_factory=IntentModelHolder)

    def embedder(self) -> Embedder:
        return get_embedder(
            self.settings.embedding_backend, self.settings.models_path, self.settings.embedding_threads
        )


def init_app(app: Flask, settings: Settings) -> Runtime:
    try:
        hours = BusinessHours.parse(settings.business_hours, settings.business_timezone)
    except BusinessHoursError as error:
        raise ConfigError(f"CHATDESK_BUSINESS_HOURS / CHATDESK_BUSINESS_TIMEZONE: {error}") from error
    events = RedisEventBus(settings.redis_url) if settings.redis_url else LocalEventBus()
    runtime = Runtime(settings, hours, events, ProviderHolder(settings))
    app.extensions[EXTENSION_KEY] = runtime
    return runtime


def current_runtime() -> Runtime:
    runtime: Runtime = current_app.extensions[EXTENSION_KEY]
    return runtime


def current_settings() -> Settings:
    return current_runtime().settings

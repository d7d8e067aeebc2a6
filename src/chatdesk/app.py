"""The application factory: it only wires settings, extensions, blueprints and error handlers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Response
from flask_openapi3 import Info, OpenAPI
from sqlalchemy import make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from chatdesk import api, web
from chatdesk.api.problems import validation_problem
from chatdesk.config import Settings
from chatdesk.extensions import cache, db, limiter, migrate
from chatdesk.logs import init_logging
from chatdesk.services import runtime
from chatdesk.store import sqlite

MIGRATIONS = Path(__file__).parent / "migrations"
MAX_BODY_BYTES = 1 << 20
SQLITE_POOL_SIZE = 32

SECURITY_SCHEMES: dict[str, Any] = {
    "conversationToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The token returned when the conversation was created.",
    },
    "staffToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "From POST /api/v1/auth/token.",
    },
}


def create_app(settings: Settings | None = None) -> OpenAPI:
    settings = settings or Settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    app = OpenAPI(
        __name__,
        info=Info(title="chatdesk", version="1.0.0",
                  description="Customer-service chatbot: customer API v1."),
        security_schemes=SECURITY_SCHEMES,
        doc_prefix="/docs",
        validation_error_callback=validation_problem,
        instance_path=str(settings.instance_path.resolve()),
    )
    _configure(app, settings)
    if settings.trusted_proxies:  # the client's address and scheme as the proxies saw them
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    init_logging(settings)
    _init_extensions(app, settings)
    api.init_app(app)
    web.init_app(app)
    app.after_request(_take_turns_with_other_requests)
    app.add_url_rule("/openapi.json", "openapi_json", lambda: app.api_doc)
    return app


def _take_turns_with_other_requests(response: Response) -> Response:
    """Yield once per request, once the response is sent (the server closes it then). Under
    gevent a keep-alive client whose next request is already waiting would otherwise be served
    again and again while other clients starve; yielding before the response is sent would hold
    it back while others run. With threads this only lets another thread run."""
    response.call_on_close(_yield)
    return response


def _yield() -> None:
    time.sleep(0)


def _configure(app: OpenAPI, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        SQLALCHEMY_DATABASE_URI=settings.sqlalchemy_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.sqlalchemy_url),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        TESTING=settings.env == "testing",
        JSON_SORT_KEYS=False,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_STORAGE_OPTIONS={"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="chatdesk",
        **_cache_config(settings),
    )


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Its waiting is set with the other pragmas (store/sqlite.py). A connection to a file is
        # cheap to keep and costly to open (four pragmas), and under gevent many requests of one
        # worker hold one at once: keep enough that they are reused instead of opened and closed.
        return {"pool_size": SQLITE_POOL_SIZE, "max_overflow": 4 * SQLITE_POOL_SIZE} if _is_file(url) else {}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10, "pool_recycle": 1800}


def _is_file(sqlite_url: str) -> bool:
    return make_url(sqlite_url).database not in (None, "", ":memory:")


def _cache_config(settings: Settings) -> dict[str, Any]:
    if settings.redis_url:
        return {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": settings.redis_url,
            "CACHE_KEY_PREFIX": "chatdesk:",
            "CACHE_OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
            "CACHE_DEFAULT_TIMEOUT": settings.reply_cache_ttl,
        }
    return {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 10_000,
            "CACHE_DEFAULT_TIMEOUT": settings.reply_cache_ttl}


def _init_extensions(app: OpenAPI, settings: Settings) -> None:
    runtime.init_app(app, settings)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    if settings.sqlalchemy_url.startswith("sqlite"):
        with app.app_context():
            sqlite.take_turns(db.engine)  # makes the engine object; connects to nothing yet
    cache.init_app(app)
    limiter.init_app(app)

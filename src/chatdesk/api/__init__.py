"""HTTP API v1: parse and validate, call one service, serialise."""

from __future__ import annotations

from flask_openapi3 import OpenAPI

from chatdesk.api import conversations, health, problems


def init_app(app: OpenAPI) -> None:
    problems.init_app(app)
    app.register_api(health.bp)
    app.register_api(conversations.bp)

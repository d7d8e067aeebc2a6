"""HTTP API v1: parse and validate, call one service, serialise."""

from __future__ import annotations

from flask_openapi3 import OpenAPI

from chatdesk.api import (
    analytics,
    answers,
    conversations,
    feedback,
    health,
    inbox,
    openai_compat,
    problems,
    staff,
)


def init_app(app: OpenAPI) -> None:
    problems.init_app(app)
    app.register_api(health.bp)
    for blueprint in (conversations.bp, feedback.bp, staff.bp, inbox.bp, answers.bp, analytics.bp):
        app.register_api(blueprint)
    app.register_blueprint(openai_compat.bp)

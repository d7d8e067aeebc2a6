"""How the bot and the team are doing (definitions in docs/agents.md), and the data behind it."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, stream_with_context
from flask_openapi3 import APIBlueprint, Tag

from chatdesk.api.access import STAFF_SECURITY, staff_user
from chatdesk.api.problems import ProblemResponses, documented, json_response
from chatdesk.api.staff_schemas import AnalyticsQuery, ExportQuery
from chatdesk.errors import InvalidInput
from chatdesk.services import analytics, export
from chatdesk.services.staff import Permission
from chatdesk.store.models import utcnow

bp = APIBlueprint("analytics", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="analytics")], abp_security=STAFF_SECURITY,
                  abp_responses=ProblemResponses)

DEFAULT_PERIOD = timedelta(days=30)


@bp.get("/analytics/summary", summary="Containment, handoffs, CSAT, feedback, intents, unanswered questions",
        responses={200: documented("The metrics of the period (defined in docs/agents.md)",
                                   schema={"type": "object"})})
def summary(query: AnalyticsQuery) -> Response:
    staff_user(Permission.ANALYTICS)
    until = query.until or utcnow()
    since = query.since or until - DEFAULT_PERIOD
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidInput("since and until need a time zone (e.g. 2026-11-01T00:00:00Z).")
    if since >= until:
        raise InvalidInput("since must be before until.")
    return json_response(analytics.summary(since, until), 200)


@bp.get("/export/conversations", summary="Conversations as PII-redacted JSON lines",
        responses={200: documented("One conversation per line", "application/x-ndjson")})
def export_conversations(query: ExportQuery) -> Response:
    staff_user(Permission.EXPORT)
    since = query.since
    if since is not None and since.tzinfo is None:
        raise InvalidInput("since needs a time zone (e.g. 2026-11-01T00:00:00Z).")
    return Response(stream_with_context(export.jsonl(export.conversations(since))),
                    mimetype="application/x-ndjson",
                    headers={"Content-Disposition": "attachment; filename=conversations.jsonl"})

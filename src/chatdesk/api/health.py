"""Liveness and readiness for load balancers and Kubernetes probes."""

from __future__ import annotations

import json

from flask import Response
from flask_openapi3 import APIBlueprint, Tag

from chatdesk.api.problems import documented
from chatdesk.services import health, metrics

bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="operations")])


@bp.get("/healthz", summary="Liveness: the process answers",
        responses={200: documented('{"status": "ok"}')})
def healthz() -> Response:
    return Response('{"status": "ok"}', mimetype="application/json")


@bp.get("/readyz", summary="Readiness: database, cache and knowledge index",
        responses={200: documented("Ready, with each check"), 503: documented("Not ready, with each check")})
def readyz() -> Response:
    report = health.readiness()
    return Response(json.dumps(report), status=200 if report["ready"] else 503,
                    mimetype="application/json")


@bp.get("/metrics", summary="Prometheus metrics",
        responses={200: documented("Prometheus text exposition format", "text/plain")})
def prometheus_metrics() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)

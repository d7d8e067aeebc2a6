"""Errors as RFC 9457 ``application/problem+json``, for every route."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import structlog
from flask import Flask, Response, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from chatdesk.api import openai_compat
from chatdesk.errors import ChatdeskError

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def json_response(body: object, status: int, headers: dict[str, str] | None = None) -> Response:
    """A pydantic model (or plain data) as a JSON response."""
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body, default=str)
    return Response(text, status=status, mimetype="application/json", headers=headers)


def validation_problem(error: ValidationError) -> Response:
    errors = [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in error.errors(include_url=False, include_context=False, include_input=False)
    ]
    fields = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in errors)
    return problem(422, "Invalid input", f"Check these fields: {fields}.", errors=errors,
                   code="validation_failed")


def check_request() -> Response | None:
    """Before any route reads the request: no NUL character anywhere (no person types one, and
    PostgreSQL cannot store one in text), and a body, if there is one, is a JSON object sent as
    JSON; say which rule it broke. The OpenAI-compatible surface checks its own requests and
    answers in its own error shape."""
    if request.path.startswith("/v1/"):
        return None
    texts = [request.path, *request.args.keys(), *request.args.values(),
             request.headers.get("Idempotency-Key", "")]
    if any("\x00" in text for text in texts):
        return _nul_problem()
    if request.method not in BODY_METHODS or not request.get_data(cache=True):
        return None
    if not request.is_json:
        return problem(415, "Unsupported media type",
                       "Send the body as JSON with 'Content-Type: application/json'.",
                       code="unsupported_media_type")
    try:
        body = json.loads(request.get_data(cache=True))
    except ValueError as error:
        return problem(400, "Malformed JSON", f"The body is not valid JSON: {error}.",
                       code="malformed_json")
    except RecursionError:
        return problem(400, "Malformed JSON", "The body is not valid JSON: it is nested too deeply.",
                       code="malformed_json")
    if _has_nul(body):
        return _nul_problem()
    if not isinstance(body, dict):
        return problem(400, "Malformed JSON", "The body must be a JSON object.",
                       code="malformed_json")
    return None


def _nul_problem() -> Response:
    return problem(422, "Invalid input", "Text must not contain NUL characters.", code="nul_character")


def _has_nul(body: Any) -> bool:
    """Whether any string in a parsed JSON body holds a NUL; without recursion, since a body may
    nest as deep as the JSON parser allows."""
    pending = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def init_app(app: Flask) -> None:
    app.before_request(check_request)

    @app.errorhandler(ChatdeskError)
    def _domain_error(error: ChatdeskError) -> Response:
        return problem(error.status, error.title, error.detail, **error.extra)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if request.path.startswith("/v1/"):  # the OpenAI-compatible surface speaks OpenAI's errors
            return openai_compat.http_error(error)
        detail = error.description or error.name
        if status == 429:  # Flask-Limiter describes the limit ("20 per 1 minute")
            detail = (f"Too many requests (at most {detail}). Please wait a moment and try again; "
                      "the Retry-After header says how long.")
        response = problem(status, error.name, detail)
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("request.failed", path=request.path, method=request.method)
        return problem(500, "Internal server error",
                       "Something went wrong on our side; nothing you sent was lost.")


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str


def documented(description: str, media_type: str = "application/json",
               schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response the OpenAPI document describes by hand: a stream, plain text, a list."""
    return {"description": description, "content": {media_type: {"schema": schema or {}}}}


EVENT_STREAM = documented("Server-sent events (JSON data), until the client goes away", "text/event-stream")


def problem_documented(title: str) -> dict[str, Any]:
    return documented(title, PROBLEM_JSON, ProblemOut.model_json_schema())


ProblemResponses: dict[str | int | HTTPStatus, type[BaseModel] | dict[Any, Any] | None] = {
    status: problem_documented(title)
    for status, title in [(400, "Bad request"), (401, "Unauthorized"), (403, "Forbidden"),
                          (404, "Not found"), (409, "Conflict with the current state"),
                          (415, "Unsupported media type"), (422, "Invalid input")]
}

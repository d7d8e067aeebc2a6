"""An OpenAI-compatible surface: ``POST /v1/chat/completions`` (streamed or not) and
``GET /v1/models``, behind API keys, running the same reply pipeline. Errors use OpenAI's shape.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, request, stream_with_context
from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictStr, Tag, ValidationError
from werkzeug.exceptions import HTTPException

from chatdesk.api.access import bearer_token
from chatdesk.engine.types import Delta
from chatdesk.errors import ChatdeskError, InvalidInput
from chatdesk.services import api_keys, conversations
from chatdesk.services.streams import SSE_HEADERS
from chatdesk.store.models import Message, Role

MODEL_ID = "chatdesk"
ROLES = {"user": Role.CUSTOMER, "assistant": Role.BOT}

bp = Blueprint("openai", __name__, url_prefix="/v1")


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code


def error_response(status: int, message: str, type_: str = "invalid_request_error",
                   param: str | None = None, code: str | None = None) -> Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return Response(json.dumps(body), status=status, mimetype="application/json")


class TextPart(BaseModel):
    type: Literal["text"]
    text: StrictStr


class OtherPart(BaseModel):
    """An image, audio or file part: understood, and refused with a clear message."""

    model_config = ConfigDict(extra="allow")
    type: StrictStr


def _part_kind(part: Any) -> str:
    return "text" if isinstance(part, dict) and part.get("type") == "text" else "other"


Part = Annotated[Annotated[TextPart, Tag("text")] | Annotated[OtherPart, Tag("other")],
                 Discriminator(_part_kind)]


class ChatMessageIn(BaseModel):
    """One message as OpenAI's clients send it: ``content`` a string or a list of text parts
    (tools built on the SDK send either); an assistant turn that only called tools has none."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: StrictStr | list[Part] | None = None

    def text(self, index: int) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        for number, part in enumerate(self.content):
            if isinstance(part, OtherPart):
                raise OpenAIError(400, f"chatdesk reads text only; this message has a part of type "
                                       f"'{part.type}'.", param=f"messages.{index}.content.{number}")
        return "\n".join(part.text for part in self.content if isinstance(part, TextPart))


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """What the OpenAI SDK sends; unknown generation options (top_p, n, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: StrictStr
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None


def _require_key() -> None:
    if api_keys.key_for(bearer_token()) is None:
        raise OpenAIError(401, "Incorrect or missing API key. Create one with `chatdesk keys create NAME`.",
                          code="invalid_api_key")


def _parse() -> ChatRequest:
    if not request.is_json:
        raise OpenAIError(400, "Send the body as JSON with 'Content-Type: application/json'.")
    try:
        body = json.loads(request.get_data(cache=True))
    except ValueError as error:
        raise OpenAIError(400, f"The body is not valid JSON: {error}.") from None
    except RecursionError:
        raise OpenAIError(400, "The body is not valid JSON: it is nested too deeply.") from None
    try:
        parsed = ChatRequest.model_validate(body)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        loc, message = list(first["loc"]), first["msg"]
        if "content" in loc:  # the paths inside the union's alternatives mean nothing to a client
            loc = loc[: loc.index("content") + 1]
            message = "content must be a string or a list of text parts ({'type': 'text', 'text': ...})"
        if not loc:
            raise OpenAIError(400, "The body must be a JSON object with 'model' and 'messages'.") from None
        param = ".".join(str(p) for p in loc)
        raise OpenAIError(400, f"Invalid '{param}': {message}.", param=param) from None
    if parsed.model != MODEL_ID:
        raise OpenAIError(404, f"The model '{parsed.model}' does not exist; use '{MODEL_ID}'.",
                          param="model", code="model_not_found")
    if parsed.messages[-1].role != "user":
        raise OpenAIError(400, "The last message must be the user's question.", param="messages")
    return parsed


def _conversation(parsed: ChatRequest) -> tuple[str, list[tuple[str, str]]]:
    """The question, and the history before it as (role, text); system, developer and tool
    messages are not history the bot answers from."""
    texts = [message.text(index) for index, message in enumerate(parsed.messages)]
    history = [(ROLES[m.role], text) for m, text in zip(parsed.messages[:-1], texts[:-1], strict=True)
               if m.role in ROLES and text.strip()]
    return texts[-1], history


@bp.get("/models")
def list_models() -> Response:
    _require_key()
    model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "chatdesk"}
    return Response(json.dumps({"object": "list", "data": [model]}), mimetype="application/json")


@bp.post("/chat/completions")
def chat_completions() -> Response:
    _require_key()
    parsed = _parse()
    question, history = _conversation(parsed)
    received, events = conversations.answer_stateless(question, history, "openai", parsed.stream)
    completion_id = f"chatcmpl-{received.message.id}"
    created = int(time.time())
    if parsed.stream:
        include_usage = bool(parsed.stream_options and parsed.stream_options.include_usage)
        chunks = _chunks(events, completion_id, created, include_usage)
        return Response(stream_with_context(chunks), mimetype="text/event-stream", headers=SSE_HEADERS)
    reply = next(events)
    assert isinstance(reply, Message)
    body = {
        "id": completion_id, "object": "chat.completion", "created": created, "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                     "finish_reason": "stop"}],
        "usage": _usage(reply),
        "chatdesk": _extension(reply),
    }
    return Response(json.dumps(body), mimetype="application/json")


def _usage(reply: Message) -> dict[str, int]:
    prompt, completion = reply.prompt_tokens or 0, reply.completion_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _extension(reply: Message) -> dict[str, Any]:
    """How the answer was made, beside OpenAI's fields (clients that don't know it ignore it)."""
    return {"answered_by": reply.answered_by, "sources": reply.sources, "handoff": reply.handoff,
            "conversation_id": reply.conversation_id, "cached": reply.cached}


def _chunks(events: Iterator[Delta | Message], completion_id: str, created: int,
            include_usage: bool) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                   "model": MODEL_ID, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                   **extra}
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    sent = ""
    for event in events:
        if isinstance(event, Delta):
            sent += event.text
            yield chunk({"content": event.text})
        else:
            if not sent:  # the answer was replaced after a failure: send what is stored
                yield chunk({"content": event.text})
            yield chunk({}, "stop", chatdesk=_extension(event))
            if include_usage:
                usage = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                         "model": MODEL_ID, "choices": [], "usage": _usage(event)}
                yield f"data: {json.dumps(usage)}\n\n"
    yield "data: [DONE]\n\n"


@bp.errorhandler(OpenAIError)
def _openai_error(error: OpenAIError) -> Response:
    return error_response(error.status, error.message, error.type, error.param, error.code)


@bp.errorhandler(ChatdeskError)
def _domain_error(error: ChatdeskError) -> Response:
    # OpenAI answers 400 to any invalid request; 422 would surprise its clients.
    status = 400 if isinstance(error, InvalidInput) else error.status
    return error_response(status, error.detail, param="messages")


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    """Also the app's answer to an HTTP error anywhere under /v1/ (a 404 or 405 there, say)."""
    status = error.code or 500
    code = "request_too_large" if status == 413 else None
    return error_response(status, error.description or error.name, code=code)

"""The customer API: conversations, messages, handoff."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, request, stream_with_context
from flask_openapi3 import APIBlueprint, Tag

from chatdesk.api.access import TOKEN_SECURITY, bearer_token
from chatdesk.api.problems import ProblemResponses, json_response, problem_documented
from chatdesk.api.schemas import (
    ConversationOut,
    ConversationPath,
    CreateConversationBody,
    CreatedConversationOut,
    HandoffBody,
    MessageOut,
    PostMessageBody,
    PostMessageOut,
)
from chatdesk.engine.types import Delta
from chatdesk.errors import InvalidInput
from chatdesk.extensions import limiter
from chatdesk.services import conversations
from chatdesk.services.conversations import ReceivedMessage
from chatdesk.services.handoff import team_back_at
from chatdesk.services.runtime import current_settings
from chatdesk.services.streams import SSE_HEADERS, sse
from chatdesk.store.models import Conversation, ConversationStatus, Message

MAX_IDEMPOTENCY_KEY = 255
TOO_MANY = problem_documented("Too many requests: wait as long as Retry-After says")

bp = APIBlueprint("conversations", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="conversations", description="The customer's side of a chat")],
                  abp_responses=ProblemResponses)


def conversation_out(conversation: Conversation) -> ConversationOut:
    """What the customer sees of a conversation (with when the team is back, while waiting)."""
    back = team_back_at() if conversation.status == ConversationStatus.WAITING else None
    return ConversationOut.of(conversation, conversations.messages_of(conversation), back)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters.",
                           errors=[{"loc": ["header", "Idempotency-Key"], "msg": "bad length"}])
    return key.strip()


def _conversation_limit() -> str:
    return current_settings().conversation_rate_limit


def _message_limit() -> str:
    return current_settings().message_rate_limit


def _conversation_key() -> str:
    return f"conversation:{(request.view_args or {}).get('conversation_id', '-')}"


@bp.post("/conversations", responses={201: CreatedConversationOut, 429: TOO_MANY},
         summary="Open a conversation and get its token")
@limiter.limit(_conversation_limit, exempt_when=lambda: not _conversation_limit())  # per client address
def create_conversation(body: CreateConversationBody) -> Response:
    conversation, token = conversations.create_conversation(body.channel)
    out = CreatedConversationOut(**ConversationOut.of(conversation, []).model_dump(), token=token)
    return json_response(out, 201, {"Location": f"/api/v1/conversations/{conversation.id}"})


@bp.get("/conversations/<conversation_id>", responses={200: ConversationOut},
        security=TOKEN_SECURITY, summary="A conversation with its messages")
def get_conversation(path: ConversationPath) -> Response:
    conversation = conversations.authorize(path.conversation_id, bearer_token())
    return json_response(conversation_out(conversation), 200)


@bp.post("/conversations/<conversation_id>/messages", responses={201: PostMessageOut, 429: TOO_MANY},
         security=TOKEN_SECURITY, summary="Send the customer's message and get the bot's reply",
         description="With `Accept: text/event-stream` the reply streams as server-sent events: "
                     "`message` (the stored customer message), `delta` events `{text}` as the "
                     "reply is written, then one `reply` event with the stored reply (null while "
                     "a person has the conversation). The `reply` event's text is authoritative.")
@limiter.limit(_message_limit, key_func=_conversation_key, exempt_when=lambda: not _message_limit())
def post_message(path: ConversationPath, body: PostMessageBody) -> Response:
    conversation = conversations.authorize(path.conversation_id, bearer_token())
    key = _idempotency_key()
    headers = {"Idempotent-Replayed": "true"}
    if _wants_stream():
        received = conversations.receive_message(conversation, body.text, key)
        stream = _reply_events(conversation, received)
        return Response(stream_with_context(stream), status=201, mimetype="text/event-stream",
                        headers={**SSE_HEADERS, **(headers if received.replayed else {})})
    posted = conversations.post_customer_message(conversation, body.text, key)
    out = PostMessageOut(message=MessageOut.of(posted.message),
                         reply=MessageOut.of(posted.reply) if posted.reply else None)
    return json_response(out, 201, headers if posted.replayed else None)


def _wants_stream() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/event-stream"])
    return best == "text/event-stream"


def _reply_events(conversation: Conversation, received: ReceivedMessage) -> Iterator[str]:
    yield sse({"message": _dump(received.message)}, "message", received.message.id)
    if received.settled:
        reply = received.reply
        if reply is not None:
            yield sse({"text": reply.text}, "delta")
        yield sse({"reply": _dump(reply) if reply else None}, "reply", reply.id if reply else None)
        return
    for event in conversations.reply_stream(conversation, received):
        if isinstance(event, Delta):
            yield sse({"text": event.text}, "delta")
        else:
            yield sse({"reply": _dump(event)}, "reply", event.id)


def _dump(message: Message) -> dict[str, object]:
    return MessageOut.of(message).model_dump(mode="json")


@bp.post("/conversations/<conversation_id>/handoff", responses={200: ConversationOut},
         security=TOKEN_SECURITY, summary="Ask for a person")
def request_handoff(path: ConversationPath, body: HandoffBody) -> Response:
    conversation = conversations.authorize(path.conversation_id, bearer_token())
    conversations.request_handoff(conversation, body.reason)
    return json_response(conversation_out(conversation), 200)

"""The customer API: conversations, messages, handoff."""

from __future__ import annotations

from flask import Response, request
from flask_openapi3 import APIBlueprint, Tag

from chatdesk.api.access import TOKEN_SECURITY, bearer_token
from chatdesk.api.problems import ProblemResponses, json_response, require_json_object
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
from chatdesk.errors import InvalidInput
from chatdesk.services import conversations

MAX_IDEMPOTENCY_KEY = 255

bp = APIBlueprint("conversations", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="conversations", description="The customer's side of a chat")],
                  abp_responses=ProblemResponses)
bp.before_request(require_json_object)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters.",
                           errors=[{"loc": ["header", "Idempotency-Key"], "msg": "bad length"}])
    return key.strip()


@bp.post("/conversations", responses={201: CreatedConversationOut},
         summary="Open a conversation and get its token")
def create_conversation(body: CreateConversationBody) -> Response:
    conversation, token = conversations.create_conversation(body.channel)
    out = CreatedConversationOut(**ConversationOut.of(conversation, []).model_dump(), token=token)
    return json_response(out, 201, {"Location": f"/api/v1/conversations/{conversation.id}"})


@bp.get("/conversations/<conversation_id>", responses={200: ConversationOut},
        security=TOKEN_SECURITY, summary="A conversation with its messages")
def get_conversation(path: ConversationPath) -> Response:
    conversation = conversations.authorize(path.conversation_id, bearer_token())
    return json_response(ConversationOut.of(conversation, conversations.messages_of(conversation)), 200)


@bp.post("/conversations/<conversation_id>/messages", responses={201: PostMessageOut},
         security=TOKEN_SECURITY, summary="Send the customer's message and get the bot's reply")
def post_message(path: ConversationPath, body: PostMessageBody) -> Response:
    conversation = conversations.authorize(path.conversation_id, bearer_token())
    key = _idempotency_key()
    posted = conversations.post_customer_message(conversation, body.text, key)
    out = PostMessageOut(message=MessageOut.of(posted.message),
                         reply=MessageOut.of(posted.reply) if posted.reply else None)
    headers = {"Idempotent-Replayed": "true"} if posted.replayed else None
    return json_response(out, 201, headers)


@bp.post("/conversations/<conversation_id>/handoff", responses={200: ConversationOut},
         security=TOKEN_SECURITY, summary="Ask for a person")
def request_handoff(path: ConversationPath, body: HandoffBody) -> Response:
    conversation = conversations.authorize(path.conversation_id, bearer_token())
    conversations.request_handoff(conversation, body.reason)
    return json_response(ConversationOut.of(conversation, conversations.messages_of(conversation)), 200)

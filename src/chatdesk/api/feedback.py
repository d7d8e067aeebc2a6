"""The customer's side of feedback and live updates: thumbs, CSAT, contact email, events."""

from __future__ import annotations

from flask import Response, request, stream_with_context
from flask_openapi3 import APIBlueprint, Tag

from chatdesk.api.access import TOKEN_SECURITY, bearer_token
from chatdesk.api.conversations import conversation_out
from chatdesk.api.problems import EVENT_STREAM, ProblemResponses, json_response
from chatdesk.api.schemas import ConversationOut, ConversationPath, MessageOut
from chatdesk.api.staff_schemas import ContactBody, CsatBody, FeedbackBody, MessagePath
from chatdesk.errors import InvalidInput
from chatdesk.services import conversations, feedback, streams
from chatdesk.services.runtime import current_settings
from chatdesk.services.streams import SSE_HEADERS
from chatdesk.store.base import parse_id

bp = APIBlueprint("feedback", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="conversations")], abp_security=TOKEN_SECURITY,
                  abp_responses=ProblemResponses)


@bp.post("/messages/<message_id>/feedback", responses={200: ConversationOut},
         summary="Thumbs up or down on a bot reply")
def rate_reply(path: MessagePath, body: FeedbackBody) -> Response:
    message, conversation = feedback.message_for_customer(path.message_id, bearer_token())
    feedback.rate_reply(message, conversation, body.rating, body.comment)
    return json_response(conversation_out(conversation), 200)


@bp.post("/conversations/<conversation_id>/csat", responses={200: ConversationOut},
         summary="Rate the conversation from 1 to 5")
def rate_conversation(path: ConversationPath, body: CsatBody) -> Response:
    conversation = conversations.authorize(path.conversation_id, bearer_token())
    feedback.rate_conversation(conversation, body.score, body.comment)
    return json_response(conversation_out(conversation), 200)


@bp.post("/conversations/<conversation_id>/contact", responses={200: ConversationOut},
         summary="Leave an email address for the team's answer")
def leave_contact(path: ConversationPath, body: ContactBody) -> Response:
    conversation = conversations.authorize(path.conversation_id, bearer_token())
    feedback.leave_contact_email(conversation, body.email)
    return json_response(conversation_out(conversation), 200)


@bp.get("/conversations/<conversation_id>/events", responses={200: EVENT_STREAM},
        summary="Server-sent events: new messages (agent replies too) and status; honours Last-Event-ID")
def events(path: ConversationPath) -> Response:
    conversation = conversations.authorize(path.conversation_id, bearer_token(query_parameter="token"))
    last = parse_id(request.headers.get("Last-Event-ID") or request.args.get("after") or "0")
    if last is None:
        raise InvalidInput("Last-Event-ID must be a message id.",
                           errors=[{"loc": ["header", "Last-Event-ID"], "msg": "not a message id"}])
    stream = streams.conversation_events(conversation.id, last, current_settings().sse_heartbeat,
                                         lambda m: MessageOut.of(m).model_dump(mode="json"))
    return Response(stream_with_context(stream), mimetype="text/event-stream", headers=SSE_HEADERS)

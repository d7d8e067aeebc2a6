"""The agents' inbox: the queue, a conversation, claim, reply, resolve, release, live changes."""

from __future__ import annotations

from flask import Response, stream_with_context
from flask_openapi3 import APIBlueprint, Tag

from chatdesk.api.access import STAFF_SECURITY, staff_user
from chatdesk.api.problems import EVENT_STREAM, ProblemResponses, json_response
from chatdesk.api.schemas import ConversationPath
from chatdesk.api.staff_schemas import (
    AgentReplyBody,
    InboxItemOut,
    InboxOut,
    InboxQuery,
    StaffConversationOut,
    StaffMessageOut,
)
from chatdesk.services import conversations, inbox, streams
from chatdesk.services.runtime import current_settings
from chatdesk.services.staff import Permission
from chatdesk.services.streams import SSE_HEADERS
from chatdesk.store.models import Conversation

bp = APIBlueprint("inbox", __name__, url_prefix="/api/v1/inbox",
                  abp_tags=[Tag(name="inbox", description="Handed-off conversations, for agents")],
                  abp_security=STAFF_SECURITY, abp_responses=ProblemResponses)


def conversation_view(conversation: Conversation) -> StaffConversationOut:
    messages = conversations.messages_of(conversation)
    return StaffConversationOut.of(conversation, messages, inbox.authors(messages),
                                   inbox.assignee(conversation))


@bp.get("", responses={200: InboxOut}, summary="Conversations waiting for or with a person")
def list_inbox(query: InboxQuery) -> Response:
    user = staff_user(Permission.INBOX_READ)
    items = inbox.list_inbox(tuple(query.status.split(",")), query.assigned, user, query.limit, query.offset)
    return json_response(InboxOut(conversations=[InboxItemOut.of(i) for i in items]), 200)


@bp.get("/events", summary="Server-sent events: a signal whenever a conversation changes",
        responses={200: EVENT_STREAM})
def inbox_events() -> Response:
    staff_user(Permission.INBOX_READ, query_parameter="access_token")
    stream = streams.inbox_events(current_settings().sse_heartbeat)
    return Response(stream_with_context(stream), mimetype="text/event-stream", headers=SSE_HEADERS)


@bp.get("/<conversation_id>", responses={200: StaffConversationOut},
        summary="A conversation with its bot history, sources and feedback")
def get_conversation(path: ConversationPath) -> Response:
    staff_user(Permission.INBOX_READ)
    return json_response(conversation_view(inbox.get_conversation(path.conversation_id)), 200)


@bp.post("/<conversation_id>/claim", responses={200: StaffConversationOut},
         summary="Take the conversation (409 if another agent has it)")
def claim(path: ConversationPath) -> Response:
    user = staff_user(Permission.INBOX_WRITE)
    return json_response(conversation_view(inbox.claim(path.conversation_id, user)), 200)


@bp.post("/<conversation_id>/messages", responses={201: StaffMessageOut},
         summary="Reply to the customer (the conversation must be yours)")
def reply(path: ConversationPath, body: AgentReplyBody) -> Response:
    user = staff_user(Permission.INBOX_WRITE)
    message = inbox.reply(path.conversation_id, user, body.text)
    return json_response(StaffMessageOut.of_staff(message, {user.id: user}), 201)


@bp.post("/<conversation_id>/resolve", responses={200: StaffConversationOut},
         summary="Mark the conversation resolved")
def resolve(path: ConversationPath) -> Response:
    user = staff_user(Permission.INBOX_WRITE)
    return json_response(conversation_view(inbox.resolve(path.conversation_id, user)), 200)


@bp.post("/<conversation_id>/release", responses={200: StaffConversationOut},
         summary="Give the conversation back to the bot")
def release(path: ConversationPath) -> Response:
    user = staff_user(Permission.INBOX_WRITE)
    return json_response(conversation_view(inbox.release(path.conversation_id, user)), 200)

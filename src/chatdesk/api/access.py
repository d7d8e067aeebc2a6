"""Who is calling: a customer's conversation token or a staff member's bearer token."""

from __future__ import annotations

from flask import request

from chatdesk.services import staff
from chatdesk.store.models import User

STAFF_SECURITY: list[dict[str, list[str]]] = [{"staffToken": []}]
TOKEN_SECURITY: list[dict[str, list[str]]] = [{"conversationToken": []}]


def bearer_token(query_parameter: str | None = None) -> str | None:
    """From ``Authorization: Bearer``; event streams may pass it in the query (EventSource
    cannot set headers)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if query_parameter:
        return request.args.get(query_parameter) or None
    return None


def staff_user(permission: staff.Permission, query_parameter: str | None = None) -> User:
    """The signed-in staff member, if their role allows ``permission`` (else 401/403)."""
    return staff.require(staff.user_from_token(bearer_token(query_parameter)), permission)

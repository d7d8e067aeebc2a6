"""Staff sign-in and staff accounts."""

from __future__ import annotations

from flask import Response, request
from flask_openapi3 import APIBlueprint, Tag

from chatdesk.api.access import STAFF_SECURITY, staff_user
from chatdesk.api.problems import (
    ProblemResponses,
    documented,
    json_response,
    problem_documented,
)
from chatdesk.api.staff_schemas import LoginBody, TokenOut, UserBody, UserOut, UserPatch, UserPath
from chatdesk.extensions import limiter
from chatdesk.services import staff
from chatdesk.services.runtime import current_settings

bp = APIBlueprint("staff", __name__, url_prefix="/api/v1",
                  abp_tags=[Tag(name="staff", description="Sign-in and staff accounts")],
                  abp_responses=ProblemResponses)


def _login_limit() -> str:
    return current_settings().login_rate_limit


def _email_key() -> str:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return f"login:{staff.normalise_email(email) if isinstance(email, str) else '-'}"


@bp.post("/auth/token", responses={200: TokenOut, 429: problem_documented("Too many sign-in attempts")},
         summary="Sign in: email and password → bearer token")
@limiter.limit(_login_limit)  # per client address
@limiter.limit(_login_limit, key_func=_email_key)  # per account, whatever the address
def sign_in(body: LoginBody) -> Response:
    user = staff.authenticate(body.email, body.password)
    token, ttl = staff.issue_token(user)
    return json_response(TokenOut(access_token=token, expires_in=ttl, role=user.role,
                                  user=UserOut.of(user)), 200)


@bp.get("/users", responses={200: documented("Every staff account", schema={
    "type": "array", "items": UserOut.model_json_schema()})},
    security=STAFF_SECURITY, summary="Staff accounts (admin)")
def list_users() -> Response:
    staff_user(staff.Permission.USERS)
    return json_response([UserOut.of(u).model_dump() for u in staff.list_users()], 200)


@bp.post("/users", responses={201: UserOut}, security=STAFF_SECURITY, summary="Add a staff account (admin)")
def create_user(body: UserBody) -> Response:
    staff_user(staff.Permission.USERS)
    user = staff.create_user(body.email, body.role, body.password, body.name)
    return json_response(UserOut.of(user), 201)


@bp.patch("/users/<int:user_id>", responses={200: UserOut}, security=STAFF_SECURITY,
          summary="Enable or disable a staff account (admin)")
def update_user(path: UserPath, body: UserPatch) -> Response:
    admin = staff_user(staff.Permission.USERS)
    return json_response(UserOut.of(staff.set_active(path.user_id, body.active, by=admin)), 200)

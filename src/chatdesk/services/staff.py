"""Staff accounts: creation, sign-in, bearer tokens, and what each role may do."""

from __future__ import annotations

import functools
from datetime import timedelta
from enum import StrEnum

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask import current_app
from sqlalchemy import func, select

from chatdesk.engine.guard import check_email
from chatdesk.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from chatdesk.extensions import db
from chatdesk.services.inbox import requeue_held_by
from chatdesk.services.runtime import current_settings
from chatdesk.store.models import StaffRole, User, utcnow

MIN_PASSWORD = 10
TOKEN_TYPE = "staff"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class Permission(StrEnum):
    INBOX_READ = "inbox:read"
    INBOX_WRITE = "inbox:write"
    ANSWERS_READ = "answers:read"
    ANSWERS_WRITE = "answers:write"
    ANALYTICS = "analytics:read"
    EXPORT = "export:read"
    USERS = "users:admin"


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    StaffRole.AGENT: frozenset({Permission.INBOX_READ, Permission.INBOX_WRITE,
                                Permission.ANSWERS_READ, Permission.ANSWERS_WRITE}),
    StaffRole.ANALYST: frozenset({Permission.INBOX_READ, Permission.ANSWERS_READ,
                                  Permission.ANALYTICS, Permission.EXPORT}),
    StaffRole.ADMIN: frozenset(Permission),
}


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, role: str, password: str, name: str = "") -> User:
    email = check_email(normalise_email(email))
    if role not in StaffRole.ALL:
        raise InvalidInput(f"Role must be one of {', '.join(StaffRole.ALL)}.",
                           errors=[{"loc": ["body", "role"], "msg": "unknown role"}])
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"The password must have at least {MIN_PASSWORD} characters.",
                           errors=[{"loc": ["body", "password"], "msg": "too short"}])
    if db.session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise Conflict(f"There is already a user {email}.", code="user_exists")
    user = User(email=email, role=role, name=name.strip(), password_hash=_hasher.hash(password))
    db.session.add(user)
    db.session.commit()
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))


def set_active(user_id: int, active: bool, by: User) -> User:
    """Enable or disable an account. Nobody disables their own (so an admin always remains), and
    a disabled agent's conversations go back to the queue instead of waiting on nobody."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.", code="user_not_found")
    if not active and user.active:
        if user.id == by.id:
            raise Conflict("You cannot disable your own account.", code="cannot_disable_self")
        requeue_held_by(user)
    user.active = active
    db.session.commit()
    return user


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so a wrong email costs as long as a wrong
    password. Made on first use: hashing costs about 0.1 s, too much for every import."""
    return _hasher.hash("chatdesk-no-such-user")


def authenticate(email: str, password: str) -> User:
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerifyMismatchError, InvalidHashError):
        user = None
    if user is None or not user.active:
        raise Unauthorized("Wrong email or password.", code="bad_credentials")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def issue_token(user: User) -> tuple[str, int]:
    ttl = current_settings().staff_token_ttl
    now = utcnow()
    claims = {"sub": str(user.id), "role": user.role, "typ": TOKEN_TYPE,
              "iat": now, "exp": now + timedelta(seconds=ttl)}
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm="HS256"), ttl


def user_from_token(token: str | None) -> User:
    if not token:
        raise Unauthorized("A staff token is required (Authorization: Bearer TOKEN); get one from "
                           "POST /api/v1/auth/token.", code="token_missing")
    try:
        claims = jwt.decode(token, current_app.config["SECRET_KEY"], algorithms=["HS256"],
                            options={"require": ["exp", "sub", "typ"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The staff token has expired; sign in again.", code="token_expired") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("That is not a valid staff token.", code="token_invalid") from None
    if claims.get("typ") != TOKEN_TYPE:
        raise Unauthorized("That is not a valid staff token.", code="token_invalid")
    user = db.session.get(User, int(claims["sub"]))
    if user is None or not user.active:
        raise Unauthorized("This account is disabled or no longer exists.", code="account_disabled")
    return user


def require(user: User, permission: Permission) -> User:
    if permission not in ROLE_PERMISSIONS.get(user.role, frozenset()):
        raise Forbidden(f"The {user.role} role may not do this ({permission}).", code="forbidden_role")
    return user

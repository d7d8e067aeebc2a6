"""Staff sign-in, tokens, and a walk over every staff route with every role and with none."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from chatdesk.extensions import db
from chatdesk.store.models import User
from tests.conftest import StaffAuth, open_chat

CHATDESK = Path(sys.executable).with_name("chatdesk")


def sign_in(client: FlaskClient, email: str, password: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    return response.status_code, response.get_json()


def test_users_create_from_the_command_line_then_sign_in(app: Flask, client: FlaskClient) -> None:
    from chatdesk.cli.users import users_group

    result = app.test_cli_runner().invoke(
        users_group, ["create", "Ana@Example.com", "--role", "agent", "--name", "Ana", "--password-stdin"],
        input="a long enough password\n")
    assert result.exit_code == 0, result.output
    status, body = sign_in(client, "ana@example.com", "a long enough password")
    assert status == 200
    assert body["token_type"] == "bearer" and body["expires_in"] == 8 * 3600 and body["role"] == "agent"
    assert body["user"] == {"id": body["user"]["id"], "email": "ana@example.com", "name": "Ana",
                            "role": "agent", "active": True}
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.email == "ana@example.com"))
    assert stored is not None and stored.startswith("$argon2id$")
    assert "a long enough password" not in stored


def test_the_console_script_creates_users(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "CHATDESK_INSTANCE_PATH": str(tmp_path)}
    subprocess.run([str(CHATDESK), "db", "upgrade"], env=env, check=True, capture_output=True)
    created = subprocess.run([str(CHATDESK), "users", "create", "lee@example.com", "--role", "admin",
                              "--password-stdin"], input="another long password\n", env=env,
                             capture_output=True, text=True, check=False)
    assert created.returncode == 0, created.stderr
    short = subprocess.run([str(CHATDESK), "users", "create", "x@example.com", "--role", "agent",
                            "--password-stdin"], input="short\n", env=env, capture_output=True,
                           text=True, check=False)
    assert short.returncode == 1 and "at least 10 characters" in short.stderr


@pytest.mark.parametrize(("email", "password"), [
    ("agent@example.com", "wrong password!"),
    ("nobody@example.com", StaffAuth.PASSWORD),
    ("agent@example.com", ""),
])
def test_wrong_credentials_are_refused_alike(client: FlaskClient, staff: StaffAuth, email: str,
                                             password: str) -> None:
    staff.headers("agent")
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code in (401, 422)
    assert response.mimetype == "application/problem+json"
    if response.status_code == 401:
        assert response.get_json()["detail"] == "Wrong email or password."


def test_a_disabled_account_cannot_sign_in_and_its_token_stops_working(
        client: FlaskClient, staff: StaffAuth) -> None:
    admin = staff.headers("admin")
    agent = staff.headers("agent")
    users = client.get("/api/v1/users", headers=admin).get_json()
    agent_id = next(u["id"] for u in users if u["role"] == "agent")
    assert client.patch(f"/api/v1/users/{agent_id}", json={"active": False}, headers=admin).status_code == 200
    assert client.get("/api/v1/inbox", headers=agent).status_code == 401
    assert sign_in(client, "agent@example.com", StaffAuth.PASSWORD)[0] == 401


def test_an_admin_cannot_disable_their_own_account(client: FlaskClient, staff: StaffAuth) -> None:
    admin = staff.headers("admin")
    me = next(u for u in client.get("/api/v1/users", headers=admin).get_json() if u["role"] == "admin")
    refused = client.patch(f"/api/v1/users/{me['id']}", json={"active": False}, headers=admin)
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "cannot_disable_self"
    assert client.get("/api/v1/users", headers=admin).status_code == 200  # still an admin


def _token(app: Flask, user_id: int, **changes: object) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "role": "admin", "typ": "staff", "iat": now,
              "exp": now + timedelta(hours=1), **changes}
    return jwt.encode(claims, str(changes.pop("key", app.config["SECRET_KEY"])), algorithm="HS256")


@pytest.mark.parametrize(("case", "code"), [
    ("expired", "token_expired"),
    ("forged", "token_invalid"),
    ("not a jwt", "token_invalid"),
    ("customer token", "token_invalid"),
    ("wrong type", "token_invalid"),
])
def test_bad_staff_tokens(app: Flask, client: FlaskClient, staff: StaffAuth, case: str, code: str) -> None:
    staff.headers("admin")
    with app.app_context():
        admin_id = db.session.scalar(select(User.id).where(User.role == "admin"))
    assert admin_id is not None
    token = {
        "expired": lambda: _token(app, admin_id, exp=datetime.now(UTC) - timedelta(seconds=5)),
        "forged": lambda: jwt.encode({"sub": str(admin_id), "typ": "staff",
                                      "exp": datetime.now(UTC) + timedelta(hours=1)},
                                     "someone-elses-secret-that-is-long-enough", algorithm="HS256"),
        "not a jwt": lambda: "garbage",
        "customer token": lambda: open_chat(client).token,
        "wrong type": lambda: _token(app, admin_id, typ="customer"),
    }[case]()
    response = client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.get_json()["code"] == code


def test_sign_in_attempts_are_rate_limited(client: FlaskClient, staff: StaffAuth) -> None:
    staff.headers("agent")  # one successful sign-in
    statuses = [client.post("/api/v1/auth/token",
                            json={"email": "agent@example.com", "password": "guess number x"}).status_code
                for _ in range(12)]
    assert statuses[:9] == [401] * 9
    assert statuses[-1] == 429
    limited = client.post("/api/v1/auth/token", json={"email": "agent@example.com",
                                                      "password": StaffAuth.PASSWORD})
    assert limited.status_code == 429 and limited.mimetype == "application/problem+json"
    assert "Retry-After" in limited.headers


# ---- every staff route, every role, and no token ----

ROUTES: list[tuple[str, str, dict | None, str]] = [  # type: ignore[type-arg]
    ("GET", "/api/v1/inbox", None, "inbox:read"),
    ("GET", "/api/v1/inbox/{cid}", None, "inbox:read"),
    ("POST", "/api/v1/inbox/{cid}/claim", None, "inbox:write"),
    ("POST", "/api/v1/inbox/{cid}/messages", {"text": "hello"}, "inbox:write"),
    ("POST", "/api/v1/inbox/{cid}/resolve", None, "inbox:write"),
    ("POST", "/api/v1/inbox/{cid}/release", None, "inbox:write"),
    ("GET", "/api/v1/inbox/events", None, "inbox:read"),
    ("POST", "/api/v1/messages/{mid}/correction", {"answer": "the right answer"}, "answers:write"),
    ("GET", "/api/v1/answers", None, "answers:read"),
    ("POST", "/api/v1/answers", {"question": "q?", "answer": "a."}, "answers:write"),
    ("GET", "/api/v1/answers/1", None, "answers:read"),
    ("PATCH", "/api/v1/answers/1", {"answer": "b."}, "answers:write"),
    ("DELETE", "/api/v1/answers/1", None, "answers:write"),
    ("GET", "/api/v1/analytics/summary", None, "analytics:read"),
    ("GET", "/api/v1/export/conversations", None, "export:read"),
    ("GET", "/api/v1/users", None, "users:admin"),
    ("POST", "/api/v1/users", {"email": "new@example.com", "role": "agent", "password": "x" * 12},
     "users:admin"),
    ("PATCH", "/api/v1/users/1", {"active": True}, "users:admin"),
]
ALLOWED = {
    "agent": {"inbox:read", "inbox:write", "answers:read", "answers:write"},
    "analyst": {"inbox:read", "answers:read", "analytics:read", "export:read"},
    "admin": {"inbox:read", "inbox:write", "answers:read", "answers:write", "analytics:read",
              "export:read", "users:admin"},
}


def test_every_staff_route_is_listed_here(app: Flask) -> None:
    staff_rules = {
        (method, rule.rule) for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
        if rule.rule.startswith(("/api/v1/inbox", "/api/v1/answers", "/api/v1/analytics", "/api/v1/users",
                                 "/api/v1/export"))
        or rule.rule.endswith("/correction")
    }
    listed = {(method, path.replace("{cid}", "<conversation_id>").replace("{mid}", "<message_id>")
               .replace("/1", "/<int:answer_id>" if "answers" in path else "/<int:user_id>"))
              for method, path, _, _ in ROUTES}
    assert staff_rules == listed


@pytest.mark.parametrize("role", ["agent", "analyst", "admin", None])
@pytest.mark.parametrize(("method", "path", "body", "permission"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_route_access(app: Flask, client: FlaskClient, staff: StaffAuth, role: str | None, method: str,
                      path: str, body: dict | None, permission: str) -> None:  # type: ignore[type-arg]
    customer = open_chat(client)
    reply = customer.ask("talk to a person please")
    headers = staff.headers(role) if role else {}
    url = path.format(cid=customer.id, mid=reply["id"])
    before = customer.get()
    if url.endswith(("/events", "/export/conversations")):
        if role and url.endswith("/events"):
            url += "?access_token=" + headers["Authorization"].split()[1]
            headers = {}
        with client.open(url, method=method, headers=headers, buffered=False) as response:
            status = response.status_code
    else:
        response = client.open(url, method=method, headers=headers, json=body)
        status = response.status_code
    if role is None:
        assert status == 401
    elif permission in ALLOWED[role]:
        assert status not in (401, 403), (status, response.get_data(as_text=True))
    else:
        assert status == 403
        assert customer.get() == before  # nothing changed


def test_customer_tokens_open_no_staff_route(client: FlaskClient) -> None:
    customer = open_chat(client)
    for method, path, body, _ in ROUTES:
        url = path.format(cid=customer.id, mid="1")
        response = client.open(url, method=method, headers=customer.headers, json=body)
        assert response.status_code == 401, (method, url)


@pytest.mark.parametrize(("method", "url", "body"), [
    ("GET", "/api/v1/inbox?offset=117636344834178809856", None),
    ("PATCH", "/api/v1/users/2147483648", {"active": True}),
    ("GET", "/api/v1/answers/99999999999999999999", None),
])
def test_numbers_beyond_any_id_are_invalid_input(client: FlaskClient, staff: StaffAuth, method: str,
                                                 url: str, body: dict[str, bool] | None) -> None:
    response = client.open(url, method=method, headers=staff.headers("admin"), json=body)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("message_id", ["99999999999999999999", "²", "١٢"])
def test_message_ids_that_are_not_plain_numbers_are_not_found(
        client: FlaskClient, staff: StaffAuth, message_id: str) -> None:
    response = client.post(f"/api/v1/messages/{message_id}/correction", json={"answer": "x"},
                           headers=staff.headers("agent"))
    assert response.status_code == 404 and response.get_json()["code"] == "message_not_found"

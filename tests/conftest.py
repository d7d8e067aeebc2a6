"""Shared fixtures: apps on SQLite (default) and on the running PostgreSQL and Redis."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient

from chatdesk import Settings, create_app
from tests.support.postgres import new_database

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
# The ONNX export of the embedder is made once and shared by every test app.
MODELS_DIR = ROOT / "instance" / "models"
POSTGRES_URL = os.environ.get(
    "CHATDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHATDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No operator setting on this machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("CHATDESK_") and not name.startswith("CHATDESK_TEST_"):
            monkeypatch.delenv(name)


def service_unavailable(name: str, reason: str) -> None:
    """Skip a test of a real service that is down, except in CI, where that is a failure."""
    message = f"{name} is not reachable ({reason}); see DESIGN.md for how to start it"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the {name} tests: {message}")
    pytest.skip(message)


def _reachable(url: str, default_port: int) -> str | None:
    parsed = urlparse(url.replace("+psycopg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port),
                                      timeout=1):
            return None
    except OSError as error:
        return str(error)


def make_settings(instance: Path, **overrides: Any) -> Settings:
    # The customer-side rate limits are off: tests send many messages from one address (the
    # limits have tests of their own).
    values: dict[str, Any] = {"env": "testing", "instance_path": instance, "models_dir": MODELS_DIR,
                              "secret_key": "test-secret-" + "x" * 40, "log_level": "WARNING",
                              "message_rate_limit": "", "conversation_rate_limit": ""}
    values.update(overrides)
    return Settings(**values)


def migrate_and_load_demo(app: Flask) -> None:
    from flask_migrate import upgrade

    from chatdesk.extensions import db
    from chatdesk.services import knowledge
    from chatdesk.services.runtime import current_runtime, current_settings

    with app.app_context():
        upgrade()
        files, _ = knowledge.collect_files([current_settings().demo_path / "kb"])
        knowledge.ingest_files(files, current_runtime().embedder())
        db.session.remove()
        db.engine.dispose()  # closing the last connection folds SQLite's WAL into the file


@pytest.fixture(scope="session")
def demo_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the demo knowledge base, built once and copied per test."""
    instance = tmp_path_factory.mktemp("demo-template")
    migrate_and_load_demo(create_app(make_settings(instance)))
    return instance / "chatdesk.db"


@pytest.fixture
def app(tmp_path: Path, demo_sqlite: Path) -> Iterator[Flask]:
    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")
    application = create_app(make_settings(tmp_path))
    yield application
    with application.app_context():
        from chatdesk.extensions import db

        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def empty_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a migrated database with no knowledge base."""
    from flask_migrate import upgrade

    application = create_app(make_settings(tmp_path))
    with application.app_context():
        upgrade()
    yield application


@dataclass
class Chat:
    """A customer in one conversation, through the HTTP API."""

    client: FlaskClient
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def say(self, text: str, **headers: str) -> Any:
        response = self.client.post(f"/api/v1/conversations/{self.id}/messages",
                                    json={"text": text}, headers={**self.headers, **headers})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def ask(self, text: str) -> dict[str, Any]:
        reply: dict[str, Any] = self.say(text)["reply"]
        return reply

    def get(self) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/conversations/{self.id}", headers=self.headers)
        assert response.status_code == 200
        result: dict[str, Any] = response.get_json()
        return result


def open_chat(client: FlaskClient) -> Chat:
    response = client.post("/api/v1/conversations", json={})
    assert response.status_code == 201
    body = response.get_json()
    return Chat(client, body["id"], body["token"])


@pytest.fixture
def chat(client: FlaskClient) -> Chat:
    return open_chat(client)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with fresh_postgres_database() as url:
        yield url


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards (the test skips, or fails in CI,
    when the server is down)."""
    reason = _reachable(POSTGRES_URL, 5432)
    if reason:
        service_unavailable("PostgreSQL", reason)
    with new_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_demo(postgres_database: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's PostgreSQL database, migrated, with the demo knowledge base."""
    instance = tmp_path_factory.mktemp("pg-template")
    migrate_and_load_demo(create_app(make_settings(instance, database_url=postgres_database)))
    return postgres_database


@pytest.fixture
def redis_url() -> Iterator[str]:
    reason = _reachable(REDIS_URL, 6379)
    if reason:
        service_unavailable("Redis", reason)
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield REDIS_URL
    connection.flushdb()
    connection.close()


class StaffAuth:
    """Staff accounts on demand, one per role, and their bearer headers."""

    PASSWORD = "correct horse battery staple"

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._headers: dict[str, dict[str, str]] = {}

    def user(self, role: str, email: str | None = None, name: str = "") -> dict[str, str]:
        from chatdesk.services import staff

        email = email or f"{role}@example.com"
        with self.app.app_context():
            staff.create_user(email, role, self.PASSWORD, name or role.capitalize())
        response = self.app.test_client().post(
            "/api/v1/auth/token", json={"email": email, "password": self.PASSWORD})
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    def headers(self, role: str) -> dict[str, str]:
        if role not in self._headers:
            self._headers[role] = self.user(role)
        return self._headers[role]


@pytest.fixture
def staff(app: Flask) -> StaffAuth:
    return StaffAuth(app)


def all_at_once(app: Flask, url: str, requests: list[dict[str, Any]], method: str = "POST") -> list[int]:
    """The requests (each one's test-client arguments) to ``url``, each on its own thread and
    client, released together; their status codes in order."""
    start = threading.Barrier(len(requests))
    results = [0] * len(requests)

    def run(i: int) -> None:
        client = app.test_client()
        start.wait()
        results[i] = client.open(url, method=method, **requests[i]).status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def assert_one_claim_wins(app: Flask, client: FlaskClient, rounds: int = 5) -> None:
    """Four agents claim one waiting conversation at the same moment: one gets it, the others
    are told someone has it, and the customer hears of one agent."""
    agents = [StaffAuth(app).user("agent", f"racer{i}@example.com", f"Agent {i}") for i in range(4)]
    for _ in range(rounds):
        chat = open_chat(client)
        chat.ask("talk to a human please")
        results = all_at_once(app, f"/api/v1/inbox/{chat.id}/claim", [{"headers": h} for h in agents])
        assert sorted(results) == [200, 409, 409, 409]
        assert sum("has joined" in m["text"] for m in chat.get()["messages"]) == 1


def assert_one_handoff(app: Flask, client: FlaskClient, rounds: int = 5) -> None:
    """A customer's "talk to a person" arrives four times at once (a double click, retries): the
    conversation is queued once, with one notice and one handoff counted."""
    from sqlalchemy import func, select

    from chatdesk.extensions import db
    from chatdesk.store.models import Handoff

    for _ in range(rounds):
        chat = open_chat(client)
        ask = {"json": {}, "headers": chat.headers}
        all_at_once(app, f"/api/v1/conversations/{chat.id}/handoff", [ask] * 4)
        conversation = chat.get()
        assert conversation["status"] == "waiting"
        assert sum(m["role"] == "system" for m in conversation["messages"]) == 1
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Handoff)
                                     .where(Handoff.conversation_id == chat.id)) == 1

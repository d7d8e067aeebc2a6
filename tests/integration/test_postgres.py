"""The production database: migrations and the customer flows on the running PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from chatdesk import create_app
from chatdesk.extensions import db
from chatdesk.store.models import Message
from tests.conftest import (
    Chat,
    all_at_once,
    assert_one_claim_wins,
    assert_one_handoff,
    make_settings,
    open_chat,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(postgres_demo: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(make_settings(tmp_path, database_url=postgres_demo))
    yield app
    with app.app_context():
        db.session.execute(text("TRUNCATE conversations, messages, handoffs, users RESTART IDENTITY CASCADE"))
        db.session.commit()
        db.engine.dispose()


@pytest.fixture
def pg_client(pg_app: Flask) -> FlaskClient:
    return pg_app.test_client()


def test_migrations_reach_head_and_match_the_models(pg_app: Flask) -> None:
    with pg_app.app_context(), db.engine.connect() as connection:
        config = pg_app.extensions["migrate"].migrate.get_config()
        heads = tuple(ScriptDirectory.from_config(config).get_heads())
        context = MigrationContext.configure(connection)
        assert context.get_current_heads() == heads
        assert compare_metadata(context, db.metadata) == []
        assert connection.execute(text("select version from kb_state")).scalar() == 1


def test_a_whole_conversation(pg_client: FlaskClient) -> None:
    chat = open_chat(pg_client)
    answer = chat.ask("How do I reset my password?")
    assert answer["answered_by"] == "retrieval"
    assert answer["sources"][0]["id"] == "password-reset-and-login-problems"
    assert answer["created_at"].endswith("Z")
    chat.ask("What is the capital of Peru?")
    assert chat.ask("Who won the football last night?")["handoff"]
    conversation = chat.get()
    assert conversation["status"] == "waiting"
    assert [m["role"] for m in conversation["messages"]] == ["customer", "bot"] * 3


def test_concurrent_retries_with_one_idempotency_key_store_one_message(
        pg_app: Flask, pg_client: FlaskClient) -> None:
    chat = open_chat(pg_client)
    retry = {"json": {"text": "how do I track my parcel"},
             "headers": {**chat.headers, "Idempotency-Key": "retry-1"}}
    results = all_at_once(pg_app, f"/api/v1/conversations/{chat.id}/messages", [retry] * 4)
    assert results == [201] * 4
    with pg_app.app_context():
        customer_messages = db.session.scalar(
            select(func.count()).select_from(Message).where(Message.role == "customer"))
    assert customer_messages == 1


def test_bad_input_is_refused_and_nothing_is_stored(pg_app: Flask, pg_client: FlaskClient) -> None:
    chat = Chat(**vars(open_chat(pg_client)))
    for payload in ({"text": ""}, {"text": "x" * 4001}, {"text": "a\x00b"}):
        response = pg_client.post(f"/api/v1/conversations/{chat.id}/messages", json=payload,
                                  headers=chat.headers)
        assert response.status_code == 422
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_nul_character_in_a_page_address_is_refused(pg_client: FlaskClient) -> None:
    assert pg_client.get("/kb/returns%00policy").status_code == 422  # PostgreSQL could not compare it
    assert pg_client.get("/kb/no-such-article").status_code == 404


def test_readyz_on_postgres(pg_client: FlaskClient) -> None:
    body = pg_client.get("/readyz").get_json()
    assert body["ready"] and body["checks"]["database"]["backend"] == "postgresql"


def test_agents_claiming_at_once_one_gets_it_the_others_are_told(
        pg_app: Flask, pg_client: FlaskClient) -> None:
    assert_one_claim_wins(pg_app, pg_client)


def test_a_handoff_asked_for_several_times_at_once_happens_once(
        pg_app: Flask, pg_client: FlaskClient) -> None:
    assert_one_handoff(pg_app, pg_client)

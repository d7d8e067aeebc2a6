"""The reply cache on the running Redis, and what happens when Redis is down."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis
from flask import Flask

from chatdesk import create_app
from tests.conftest import make_settings, open_chat

pytestmark = pytest.mark.redis


def redis_app(tmp_path: Path, demo_sqlite: Path, url: str) -> Flask:
    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")
    return create_app(make_settings(tmp_path, redis_url=url))


def test_replies_are_cached_in_redis_and_shared_between_processes(
        tmp_path: Path, demo_sqlite: Path, redis_url: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first_app = redis_app(tmp_path / "a", demo_sqlite, redis_url)
    second_app = redis_app(tmp_path / "b", demo_sqlite, redis_url)
    first = open_chat(first_app.test_client()).ask("How long do refunds take to reach PayPal?")
    keys = redis.Redis.from_url(redis_url).keys("chatdesk:reply:*")
    assert len(keys) == 1
    # Another server process sharing the Redis gets the stored reply.
    second = open_chat(second_app.test_client()).ask("how long do refunds take to reach paypal")
    assert not first["cached"] and second["cached"]
    assert second["text"] == first["text"]


def test_the_cache_is_invalidated_when_the_knowledge_base_changes(
        tmp_path: Path, demo_sqlite: Path, redis_url: str) -> None:
    from chatdesk.services import knowledge
    from chatdesk.services.runtime import current_runtime

    app = redis_app(tmp_path, demo_sqlite, redis_url)
    client = app.test_client()
    assert not open_chat(client).ask("What are the opening hours in Bath?")["cached"]
    assert open_chat(client).ask("What are the opening hours in Bath?")["cached"]
    article = tmp_path / "bath-shop-refit.md"
    article.write_text("# Bath shop refit\n\n## Closed for a refit\n\nThe Bath shop is closed "
                       "for a refit until March; the other shops keep their usual hours.\n")
    with app.app_context():
        knowledge.ingest_files([article], current_runtime().embedder())
    assert not open_chat(client).ask("What are the opening hours in Bath?")["cached"]


def test_a_redis_that_is_down_slows_replies_but_never_fails_them(
        tmp_path: Path, demo_sqlite: Path) -> None:
    app = redis_app(tmp_path, demo_sqlite, "redis://127.0.0.1:1/0")
    client = app.test_client()
    chat = open_chat(client)
    reply = chat.ask("How do I reset my password?")
    assert reply["answered_by"] == "retrieval" and not reply["cached"]
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["degraded"] == ["cache"]

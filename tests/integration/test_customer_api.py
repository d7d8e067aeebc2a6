"""The customer API through the test client, on SQLite with the demo knowledge base."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from chatdesk import create_app
from chatdesk.extensions import db
from chatdesk.store.models import Conversation, Message
from tests.conftest import Chat, make_settings, open_chat


def count_messages(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Message)) or 0


def test_open_a_conversation(client: FlaskClient) -> None:
    response = client.post("/api/v1/conversations", json={"channel": "web"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "token", "status", "messages", "created_at", "csat_score", "csat_requested",
                         "contact_email_left", "team_back_at"}
    assert body["status"] == "bot" and body["messages"] == []
    assert response.headers["Location"] == f"/api/v1/conversations/{body['id']}"
    assert body["created_at"].endswith("Z")


def test_a_conversation_can_be_opened_without_a_body(client: FlaskClient) -> None:
    assert client.post("/api/v1/conversations").status_code == 201


def test_a_covered_question_gets_a_short_cited_answer(chat: Chat) -> None:
    result = chat.say("What does delivery to Australia cost?")
    message, reply = result["message"], result["reply"]
    assert message["role"] == "customer" and message["answered_by"] is None
    assert reply["role"] == "bot" and reply["answered_by"] == "retrieval"
    assert reply["sources"][0]["id"] == "international-delivery"
    assert reply["sources"][0]["url"].startswith("/kb/international-delivery")
    assert "£12.95" in reply["text"]
    assert len(reply["text"]) < 600
    assert not reply["handoff"] and not reply["cached"]
    assert set(reply) == {"id", "role", "text", "created_at", "answered_by", "intent",
                          "sources", "handoff", "cached", "feedback"}
    assert set(reply["sources"][0]) == {"id", "title", "url", "snippet", "score"}


def test_a_follow_up_leans_on_the_last_question_the_bot_answered(chat: Chat) -> None:
    assert chat.ask("can I buy a gift card?")["sources"][0]["id"] == "gift-cards"
    chat.ask("ok, what is the capital of Peru?")  # answered with "I don't know": no context
    reply = chat.ask("do they expire?")
    assert reply["answered_by"] == "retrieval" and reply["sources"][0]["id"] == "gift-cards"
    assert "valid for 24 months" in reply["text"] and not reply["cached"]


def test_an_uncovered_question_is_told_plainly_and_offered_a_person(chat: Chat) -> None:
    reply = chat.ask("Can you recommend a good dentist in Leeds?")
    assert reply["answered_by"] == "fallback"
    assert "don't know" in reply["text"] and "team" in reply["text"]
    assert reply["sources"] == [] and not reply["handoff"]
    assert chat.get()["status"] == "bot"


def test_two_fallbacks_in_a_row_hand_the_conversation_to_a_person(chat: Chat) -> None:
    assert not chat.ask("What is the capital of Peru?")["handoff"]
    reply = chat.ask("Who won the football last night?")
    assert reply["handoff"] and reply["answered_by"] == "fallback"
    conversation = chat.get()
    assert conversation["status"] == "waiting"
    # While waiting for a person the bot stays quiet; the message is still kept.
    result = chat.say("hello? anyone there?")
    assert result["reply"] is None
    assert chat.get()["messages"][-1]["text"] == "hello? anyone there?"


def test_an_answer_between_fallbacks_resets_the_streak(chat: Chat) -> None:
    chat.ask("What is the capital of Peru?")
    assert chat.ask("what are your shop opening hours in Bath")["answered_by"] == "retrieval"
    assert not chat.ask("Who won the football last night?")["handoff"]


def test_yes_to_the_offer_of_a_person_hands_off(chat: Chat) -> None:
    chat.ask("Can you recommend a good dentist in Leeds?")
    reply = chat.ask("yes please")
    assert reply["handoff"] and reply["role"] == "system"
    assert chat.get()["status"] == "waiting"


def test_asking_for_a_person_hands_off(chat: Chat) -> None:
    reply = chat.ask("I want to speak to a real person")
    assert reply["handoff"] and reply["role"] == "system" and reply["answered_by"] is None
    assert chat.get()["status"] == "waiting"


def test_the_handoff_endpoint_queues_the_conversation_once(chat: Chat, client: FlaskClient) -> None:
    url = f"/api/v1/conversations/{chat.id}/handoff"
    first = client.post(url, json={"reason": "billing question"}, headers=chat.headers)
    assert first.status_code == 200
    body = first.get_json()
    assert body["status"] == "waiting"
    assert body["messages"][-1]["role"] == "system" and body["messages"][-1]["handoff"]
    again = client.post(url, headers=chat.headers)
    assert again.status_code == 200 and len(again.get_json()["messages"]) == 1


def test_a_resolved_conversation_reopens_to_the_bot(chat: Chat, app: Flask) -> None:
    with app.app_context():
        db.session.get(Conversation, chat.id).status = "resolved"  # type: ignore[union-attr]
        db.session.commit()
    assert chat.ask("how do I reset my password")["answered_by"] == "retrieval"
    assert chat.get()["status"] == "bot"


def test_the_same_question_again_is_served_from_the_cache(client: FlaskClient) -> None:
    first = open_chat(client).ask("Do you deliver to Canada?")
    second = open_chat(client).ask("do you deliver to canada")
    assert not first["cached"] and second["cached"]
    assert second["text"] == first["text"] and second["sources"] == first["sources"]
    assert second["id"] != first["id"]


def test_get_returns_the_whole_conversation_in_order(chat: Chat) -> None:
    chat.ask("how do I track my parcel")
    chat.ask("can I pay with PayPal?")
    messages = chat.get()["messages"]
    assert [m["role"] for m in messages] == ["customer", "bot", "customer", "bot"]
    assert [int(m["id"]) for m in messages] == sorted(int(m["id"]) for m in messages)


def test_the_same_idempotency_key_returns_the_same_message(chat: Chat, app: Flask) -> None:
    first = chat.say("how do I track my parcel", **{"Idempotency-Key": "abc-123"})
    before = count_messages(app)
    again = chat.client.post(f"/api/v1/conversations/{chat.id}/messages",
                             json={"text": "how do I track my parcel"},
                             headers={**chat.headers, "Idempotency-Key": "abc-123"})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first
    assert count_messages(app) == before
    other = chat.say("how do I track my parcel", **{"Idempotency-Key": "abc-124"})
    assert other["message"]["id"] != first["message"]["id"]


def test_an_idempotency_key_belongs_to_its_conversation(client: FlaskClient) -> None:
    a, b = open_chat(client), open_chat(client)
    first = a.say("how do I track my parcel", **{"Idempotency-Key": "same"})
    second = b.say("how do I track my parcel", **{"Idempotency-Key": "same"})
    assert first["message"]["id"] != second["message"]["id"]


def test_card_numbers_are_not_stored(chat: Chat) -> None:
    result = chat.say("my card 4111 1111 1111 1111 was declined, why?")
    assert "4111" not in result["message"]["text"]
    assert "[card number]" in chat.get()["messages"][0]["text"]


# ---- bad input: a clear 4xx problem, nothing stored, never a 500 ----

def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.mark.parametrize(("payload", "detail"), [
    ({"text": ""}, "text"),
    ({"text": "   \n\t "}, "empty"),
    ({"text": "x" * 4001}, "text"),
    ({}, "text"),
    ({"text": 42}, "text"),
    ({"text": "hi", "extra": 1}, "extra"),
])
def test_invalid_message_bodies(chat: Chat, app: Flask, payload: dict[str, Any],
                                detail: str) -> None:
    before = count_messages(app)
    response = chat.client.post(f"/api/v1/conversations/{chat.id}/messages", json=payload,
                                headers=chat.headers)
    body = assert_problem(response, 422)
    assert detail in str(body)
    assert body["errors"]
    assert count_messages(app) == before


def test_a_message_at_the_limit_is_accepted(chat: Chat) -> None:
    assert chat.say("a" * 4000)["message"]["text"] == "a" * 4000


@pytest.mark.parametrize(("data", "content_type", "status"), [
    ('{"text": "hi"', "application/json", 400),
    ("[1, 2]", "application/json", 400),
    ('"hi"', "application/json", 400),
    ("text=hi", "application/x-www-form-urlencoded", 415),
    ('{"text": "hi"}', "text/plain", 415),
    (b"\xff\xfe\x00garbage", "application/json", 400),
    ('{"text": "hi", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "application/json", 400),  # too deep
    ('{"text": "hi", "x": ' + "[" * 700 + "]" * 700 + "}", "application/json", 422),  # deep, but JSON
    ('{"text": "hi\\u0000there"}', "application/json", 422),  # NUL: PostgreSQL could not store it
])
def test_bodies_that_are_not_json_objects(chat: Chat, app: Flask, data: Any, content_type: str,
                                          status: int) -> None:
    before = count_messages(app)
    response = chat.client.post(f"/api/v1/conversations/{chat.id}/messages", data=data,
                                content_type=content_type, headers=chat.headers)
    assert_problem(response, status)
    assert count_messages(app) == before


@pytest.mark.parametrize("headers", [{"Idempotency-Key": "a\x00b"}, {}])
def test_nul_characters_are_refused_anywhere(chat: Chat, app: Flask, headers: dict[str, str]) -> None:
    before = count_messages(app)
    query = "" if headers else "?x=%00"
    response = chat.client.post(f"/api/v1/conversations/{chat.id}/messages{query}", json={"text": "hi"},
                                headers={**chat.headers, **headers})
    assert assert_problem(response, 422)["code"] == "nul_character"
    assert count_messages(app) == before


def test_an_oversized_body_is_refused(chat: Chat) -> None:
    response = chat.client.post(f"/api/v1/conversations/{chat.id}/messages",
                                json={"text": "x" * (2 << 20)}, headers=chat.headers)
    assert_problem(response, 413)


@pytest.mark.parametrize("method", ["get", "post_message", "handoff"])
def test_unknown_conversation(client: FlaskClient, chat: Chat, method: str) -> None:
    response = call(client, method, "0" * 32, chat.headers)
    assert assert_problem(response, 404)["code"] == "conversation_not_found"


@pytest.mark.parametrize("method", ["get", "post_message", "handoff"])
@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Bearer"}, 401),
    ({"Authorization": "Basic abc"}, 401),
    ({"Authorization": "Bearer not-the-token"}, 403),
])
def test_missing_or_wrong_token(client: FlaskClient, app: Flask, chat: Chat, method: str,
                                headers: dict[str, str], status: int) -> None:
    before = count_messages(app)
    assert_problem(call(client, method, chat.id, headers), status)
    assert count_messages(app) == before
    assert chat.get()["status"] == "bot"


@pytest.mark.parametrize("method", ["get", "post_message", "handoff"])
def test_another_conversations_token_is_refused(client: FlaskClient, app: Flask, chat: Chat,
                                                method: str) -> None:
    other = open_chat(client)
    before = count_messages(app)
    assert_problem(call(client, method, chat.id, other.headers), 403)
    assert count_messages(app) == before


def call(client: FlaskClient, method: str, conversation_id: str, headers: dict[str, str]) -> Any:
    base = f"/api/v1/conversations/{conversation_id}"
    if method == "get":
        return client.get(base, headers=headers)
    if method == "post_message":
        return client.post(f"{base}/messages", json={"text": "hello"}, headers=headers)
    return client.post(f"{base}/handoff", json={}, headers=headers)


def test_a_bad_idempotency_key_is_refused(chat: Chat, app: Flask) -> None:
    before = count_messages(app)
    response = chat.client.post(f"/api/v1/conversations/{chat.id}/messages",
                                json={"text": "hi"},
                                headers={**chat.headers, "Idempotency-Key": "k" * 256})
    assert_problem(response, 422)
    assert count_messages(app) == before


def test_unknown_routes_and_methods_are_problems(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/nope"), 404)
    assert_problem(client.delete("/api/v1/conversations"), 405)


def test_a_failing_pipeline_degrades_the_reply_not_the_conversation(
        chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdesk.services import conversations

    def broken() -> None:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(conversations, "pipeline", broken)
    result = chat.say("how do I track my parcel")
    assert result["reply"]["answered_by"] == "fallback"
    assert [m["text"] for m in chat.get()["messages"]][0] == "how do I track my parcel"


def test_a_flood_of_messages_or_conversations_is_slowed_down(tmp_path: Path, demo_sqlite: Path) -> None:
    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")
    app = create_app(make_settings(tmp_path, message_rate_limit="3 per minute",
                                   conversation_rate_limit="2 per minute"))
    client = app.test_client()
    chat = open_chat(client)
    for _ in range(3):
        assert chat.client.post(f"/api/v1/conversations/{chat.id}/messages", json={"text": "hello"},
                                headers=chat.headers).status_code == 201
    refused = chat.client.post(f"/api/v1/conversations/{chat.id}/messages", json={"text": "hello"},
                               headers=chat.headers)
    body = assert_problem(refused, 429)
    assert "3 per 1 minute" in body["detail"] and int(refused.headers["Retry-After"]) > 0
    customer_messages = [m for m in chat.get()["messages"] if m["role"] == "customer"]
    assert len(customer_messages) == 3  # the refused one was not stored
    assert open_chat(client).say("hello")["reply"]  # another conversation has its own allowance

    # Conversations per client address: this one has opened two.
    assert_problem(client.post("/api/v1/conversations", json={}), 429)
    assert client.post("/api/v1/conversations", json={},
                       environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 201


def test_behind_a_trusted_proxy_the_customers_address_counts(tmp_path: Path, demo_sqlite: Path) -> None:
    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")
    app = create_app(make_settings(tmp_path, conversation_rate_limit="1 per minute", trusted_proxies=1))
    client = app.test_client()
    for address in ("198.51.100.1", "198.51.100.2"):  # two customers, one proxy
        headers = {"X-Forwarded-For": address}
        assert client.post("/api/v1/conversations", json={}, headers=headers).status_code == 201
    assert client.post("/api/v1/conversations", json={},
                       headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 429

"""A customer the bot cannot help, the agent who takes over, and the correction that sticks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import (
    Chat,
    StaffAuth,
    all_at_once,
    assert_one_claim_wins,
    assert_one_handoff,
    make_settings,
    open_chat,
)
from tests.support.servers import open_stream, serve_in_thread
from tests.support.sse import SSEReader


@pytest.fixture
def app(tmp_path: Path, demo_sqlite: Path) -> Iterator[Flask]:
    """The demo app with a short heartbeat, so event streams can be closed quickly."""
    import shutil

    from chatdesk import create_app

    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")
    yield create_app(make_settings(tmp_path, sse_heartbeat=0.2))


@contextmanager
def events(app: Flask, chat: Chat, last_event_id: str | None = None) -> Iterator[SSEReader]:
    """The customer's event stream, from the app served for real on a thread."""
    headers = {**chat.headers, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    with serve_in_thread(app) as url, open_stream(
            f"{url}/api/v1/conversations/{chat.id}/events", headers) as reader:
        yield reader


def test_the_whole_journey(app: Flask, client: FlaskClient, staff: StaffAuth) -> None:
    agent = staff.user("agent", "sam@example.com", name="Sam")
    customer = open_chat(client)

    # Two answers the bot does not have: the second hands the conversation to a person.
    wrong = customer.ask("Do you price match Argos?")  # a reply the agent will correct
    customer.ask("What is the capital of Peru?")
    handed = customer.ask("Who won the football last night?")
    assert handed["handoff"] and customer.get()["status"] == "waiting"

    queue = client.get("/api/v1/inbox", headers=agent).get_json()["conversations"]
    assert [c["id"] for c in queue] == [customer.id]
    assert queue[0]["handoff_reason"] == "fallback_streak" and queue[0]["waiting_seconds"] >= 0

    with events(app, customer) as stream:
        history = [stream.next().data["message"]["role"] for _ in range(6)]
        assert history == ["customer", "bot"] * 3

        claimed = client.post(f"/api/v1/inbox/{customer.id}/claim", headers=agent)
        assert claimed.status_code == 200 and claimed.get_json()["status"] == "agent"
        joined = stream.next()
        assert joined.data["status"] == "agent" and "Sam" in joined.data["message"]["text"]

        sent = client.post(f"/api/v1/inbox/{customer.id}/messages", headers=agent,
                           json={"text": "Hi, I'm Sam. We only adjust our own prices, sorry."})
        assert sent.status_code == 201
        live = stream.next()
        assert live.data["message"]["role"] == "agent"
        assert live.data["message"]["text"].startswith("Hi, I'm Sam")
        assert live.id == sent.get_json()["id"]

    # The agent's reply is part of the stored history either way.
    assert customer.get()["messages"][-1]["role"] == "agent"

    # The agent corrects the bot's earlier answer; it applies at once.
    correction = client.post(f"/api/v1/messages/{wrong['id']}/correction", headers=agent,
                             json={"answer": "We don't match other shops' prices, but if our own "
                                             "price drops within 7 days we refund the difference."})
    assert correction.status_code == 201, correction.get_json()
    assert correction.get_json()["question"] == "Do you price match Argos?"

    newcomer = open_chat(client)
    reply = newcomer.ask("will you price match argos?")
    assert reply["answered_by"] == "curated"
    assert "refund the difference" in reply["text"]
    listed = client.get("/api/v1/answers", headers=agent).get_json()["answers"]
    assert [a["id"] for a in listed] == [correction.get_json()["id"]]


def test_resume_with_last_event_id(app: Flask, client: FlaskClient) -> None:
    customer = open_chat(client)
    first = customer.say("How do I reset my password?")
    customer.say("Can I pay with PayPal?")
    with events(app, customer, last_event_id=first["reply"]["id"]) as stream:
        resumed = [stream.next().data["message"]["text"] for _ in range(2)]
    assert resumed[0] == "Can I pay with PayPal?"


@pytest.mark.parametrize("last", ["99999999999999999999", "²", "x"])
def test_a_last_event_id_that_is_not_a_message_id_is_refused(client: FlaskClient, last: str) -> None:
    customer = open_chat(client)
    response = client.get(f"/api/v1/conversations/{customer.id}/events?token={customer.token}",
                          headers={"Last-Event-ID": last})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


def test_an_event_stream_needs_the_conversations_token(app: Flask, client: FlaskClient) -> None:
    customer, other = open_chat(client), open_chat(client)
    assert client.get(f"/api/v1/conversations/{customer.id}/events").status_code == 401
    forbidden = client.get(f"/api/v1/conversations/{customer.id}/events", headers=other.headers)
    assert forbidden.status_code == 403
    malformed = client.get(f"/api/v1/conversations/{customer.id}/events",
                           headers={**customer.headers, "Last-Event-ID": "abc"})
    assert malformed.status_code == 422
    with serve_in_thread(app) as url, open_stream(
            f"{url}/api/v1/conversations/{customer.id}/events?token={customer.token}") as stream:
        customer.ask("How do I reset my password?")
        assert stream.next().data["message"]["role"] == "customer"


def test_claiming_a_conversation_someone_else_holds_is_refused(client: FlaskClient,
                                                               staff: StaffAuth) -> None:
    sam, kim = staff.user("agent", "sam@example.com"), staff.user("agent", "kim@example.com")
    customer = open_chat(client)
    customer.ask("talk to a human please")
    assert client.post(f"/api/v1/inbox/{customer.id}/claim", headers=sam).status_code == 200
    taken = client.post(f"/api/v1/inbox/{customer.id}/claim", headers=kim)
    assert taken.status_code == 409 and taken.mimetype == "application/problem+json"
    assert taken.get_json()["code"] == "claimed_by_other"
    reply = client.post(f"/api/v1/inbox/{customer.id}/messages", headers=kim, json={"text": "hi"})
    assert reply.status_code == 403
    assert [m["role"] for m in customer.get()["messages"]][-1] == "system"  # nothing added
    assert client.post(f"/api/v1/inbox/{customer.id}/claim", headers=sam).status_code == 200


def test_agents_claiming_at_once_one_gets_it_the_others_are_told(app: Flask, client: FlaskClient) -> None:
    assert_one_claim_wins(app, client)


def test_a_handoff_asked_for_several_times_at_once_happens_once(app: Flask, client: FlaskClient) -> None:
    assert_one_handoff(app, client)


def test_resolving_twice_at_once_resolves_once(app: Flask, client: FlaskClient, staff: StaffAuth) -> None:
    agent, admin = staff.headers("agent"), staff.headers("admin")
    for _ in range(3):
        customer = open_chat(client)
        customer.ask("talk to a human please")
        client.post(f"/api/v1/inbox/{customer.id}/claim", headers=agent)
        results = all_at_once(app, f"/api/v1/inbox/{customer.id}/resolve",
                              [{"headers": agent}, {"headers": admin}])
        assert sorted(results) == [200, 409]
        assert sum("marked as resolved" in m["text"] for m in customer.get()["messages"]) == 1


def test_resolved_conversations_take_no_agent_replies_and_reopen_to_the_bot(
        client: FlaskClient, staff: StaffAuth) -> None:
    agent = staff.headers("agent")
    customer = open_chat(client)
    customer.ask("Can I speak to a person?")
    client.post(f"/api/v1/inbox/{customer.id}/claim", headers=agent)
    resolved = client.post(f"/api/v1/inbox/{customer.id}/resolve", headers=agent)
    assert resolved.get_json()["status"] == "resolved"
    late = client.post(f"/api/v1/inbox/{customer.id}/messages", headers=agent, json={"text": "one more"})
    assert late.status_code == 409 and late.get_json()["code"] == "resolved"

    count = len(customer.get()["messages"])
    answer = customer.ask("What is the capital of Peru?")
    conversation = customer.get()
    assert conversation["status"] == "bot"  # reopened to the bot, and told so
    assert conversation["messages"][count]["role"] == "system"
    assert "assistant again" in conversation["messages"][count]["text"]
    # No loop: the fallbacks before the resolution don't count, one more is not a handoff.
    assert answer["answered_by"] == "fallback" and not answer["handoff"]
    assert customer.get()["status"] == "bot"


def test_release_gives_the_conversation_back_to_the_bot(client: FlaskClient, staff: StaffAuth) -> None:
    agent = staff.headers("agent")
    customer = open_chat(client)
    customer.ask("agent please")
    client.post(f"/api/v1/inbox/{customer.id}/claim", headers=agent)
    released = client.post(f"/api/v1/inbox/{customer.id}/release", headers=agent).get_json()
    assert released["status"] == "bot" and released["assigned_to"] is None
    assert customer.ask("How do I reset my password?")["answered_by"] == "retrieval"


def test_disabling_an_agent_puts_their_conversations_back_in_the_queue(
        client: FlaskClient, staff: StaffAuth) -> None:
    admin = staff.headers("admin")
    sam, kim = staff.user("agent", "sam@example.com", "Sam"), staff.user("agent", "kim@example.com")
    customer = open_chat(client)
    customer.ask("talk to a human please")
    client.post(f"/api/v1/inbox/{customer.id}/claim", headers=sam)
    sam_id = next(u["id"] for u in client.get("/api/v1/users", headers=admin).get_json()
                  if u["email"] == "sam@example.com")

    assert client.patch(f"/api/v1/users/{sam_id}", json={"active": False}, headers=admin).status_code == 200
    conversation = customer.get()
    assert conversation["status"] == "waiting"  # not left with nobody to answer
    notice = conversation["messages"][-1]
    assert notice["role"] == "system" and "Sam is no longer available" in notice["text"]
    queued = client.get("/api/v1/inbox?status=waiting", headers=kim).get_json()["conversations"]
    assert any(item["id"] == customer.id and item["assigned_to"] is None for item in queued)
    assert client.post(f"/api/v1/inbox/{customer.id}/claim", headers=kim).status_code == 200


def test_two_thumbs_down_in_a_row_hand_off(client: FlaskClient) -> None:
    customer = open_chat(client)
    first = customer.ask("How do I reset my password?")
    second = customer.ask("How long does delivery to Canada take?")
    up = client.post(f"/api/v1/messages/{first['id']}/feedback", headers=customer.headers,
                     json={"rating": "down", "comment": "not what I asked"})
    assert up.status_code == 200 and up.get_json()["status"] == "bot"
    assert up.get_json()["messages"][1]["feedback"] == "down"
    down = client.post(f"/api/v1/messages/{second['id']}/feedback", headers=customer.headers,
                       json={"rating": "down"})
    body = down.get_json()
    assert body["status"] == "waiting"
    assert body["messages"][-1]["role"] == "system" and body["messages"][-1]["handoff"]


def test_a_thumbs_up_between_breaks_the_streak(client: FlaskClient) -> None:
    customer = open_chat(client)
    replies = [customer.ask(q) for q in ("How do I reset my password?", "Can I pay with PayPal?",
                                         "Do you deliver to Canada?")]
    for reply, rating in zip(replies, ("down", "up", "down"), strict=True):
        client.post(f"/api/v1/messages/{reply['id']}/feedback", headers=customer.headers,
                    json={"rating": rating})
    assert customer.get()["status"] == "bot"


def test_feedback_rules(client: FlaskClient) -> None:
    customer, other = open_chat(client), open_chat(client)
    result = customer.say("How do I reset my password?")
    mine, bot = result["message"], result["reply"]
    url = f"/api/v1/messages/{bot['id']}/feedback"
    assert client.post(url, json={"rating": "up"}).status_code == 401
    assert client.post(url, json={"rating": "up"}, headers=other.headers).status_code == 403
    assert client.post(url, json={"rating": "meh"}, headers=customer.headers).status_code == 422
    own = client.post(f"/api/v1/messages/{mine['id']}/feedback", json={"rating": "up"},
                      headers=customer.headers)
    assert own.status_code == 409
    assert client.post("/api/v1/messages/999999/feedback", json={"rating": "up"},
                       headers=customer.headers).status_code == 404


def test_csat_and_contact_email(client: FlaskClient, staff: StaffAuth) -> None:
    customer = open_chat(client)
    customer.ask("talk to a person")
    url = f"/api/v1/conversations/{customer.id}"
    assert client.post(f"{url}/csat", json={"score": 6}, headers=customer.headers).status_code == 422
    rated = client.post(f"{url}/csat", json={"score": 4, "comment": "quick"}, headers=customer.headers)
    assert rated.status_code == 200
    bad = client.post(f"{url}/contact", json={"email": "not-an-email"}, headers=customer.headers)
    assert bad.status_code == 422
    noted = client.post(f"{url}/contact", json={"email": "jo@example.com"}, headers=customer.headers)
    assert "jo@example.com" in noted.get_json()["messages"][-1]["text"]
    assert noted.get_json()["contact_email_left"] and noted.get_json()["csat_score"] == 4
    seen = client.get(f"/api/v1/inbox/{customer.id}", headers=staff.headers("agent")).get_json()
    assert seen["csat_score"] == 4 and seen["csat_comment"] == "quick"
    assert seen["contact_email"] == "jo@example.com"


def test_outside_business_hours_the_customer_is_told_when_the_team_is_back(
        tmp_path: Path, demo_sqlite: Path) -> None:
    import shutil
    from datetime import UTC, datetime

    from chatdesk import create_app

    now = datetime.now(UTC)
    # Open only on a day that is not today: the team is away now, whatever the time.
    day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(now.weekday() + 2) % 7]
    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")
    app = create_app(make_settings(tmp_path, business_hours=f"{day} 09:00-17:00",
                                   business_timezone="Europe/London"))
    customer = open_chat(app.test_client())
    reply = customer.ask("I'd like to talk to a human")
    assert reply["handoff"]
    assert "away right now and back" in reply["text"] and "09:00" in reply["text"]
    assert "email" in reply["text"]
    conversation = customer.get()
    assert conversation["status"] == "waiting"
    assert "09:00" in conversation["team_back_at"] and not conversation["contact_email_left"]

"""Answers written by an LLM (a fake OpenAI-compatible server on loopback), and every way it fails."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from chatdesk import create_app
from tests.conftest import Chat, make_settings, open_chat
from tests.fakes.openai_server import FakeOpenAIServer, ScriptedReply

QUESTION = "How much does delivery to Australia cost?"
GROUNDED = "Standard delivery to Australia costs £12.95 [1], and it is free over £150 [1]."
LLM_TIMEOUT = 1.0


def llm_app(tmp_path: Path, demo_sqlite: Path, base_url: str, **overrides: Any) -> Flask:
    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")
    values = {"llm_base_url": base_url, "llm_model": "fake-model", "llm_api_key": "sk-test",
              "llm_timeout": LLM_TIMEOUT, "llm_max_retries": 1, "company_name": "Larkspur Goods",
              "llm_tone": "warm and concise"}
    return create_app(make_settings(tmp_path, **{**values, **overrides}))


@pytest.fixture
def app(tmp_path: Path, demo_sqlite: Path, fake_openai: FakeOpenAIServer) -> Iterator[Flask]:
    application = llm_app(tmp_path, demo_sqlite, fake_openai.base_url)
    yield application
    application.extensions["chatdesk"].llm.close()


def metric(client: FlaskClient, name: str, **labels: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(wanted + " "))


def test_a_grounded_answer_with_its_citations_and_usage(client: FlaskClient,
                                                        fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue("We deliver to 45 countries [1].",
                      ScriptedReply(GROUNDED, prompt_tokens=321, completion_tokens=23))
    chat = open_chat(client)
    chat.ask("Hello there, do you send orders abroad?")
    reply = chat.ask(QUESTION)
    assert reply["answered_by"] == "llm"
    assert reply["text"] == "Standard delivery to Australia costs £12.95, and it is free over £150."
    assert len(reply["sources"]) == 1  # what [1] cited

    sent = fake_openai.chat_requests[-1]
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "fake-model" and sent.body["stream"] is False
    system, *turns = sent.messages
    assert system["role"] == "system"
    assert "Larkspur Goods" in system["content"] and "warm and concise" in system["content"]
    assert "Answer only from the numbered passages" in system["content"]
    assert "Never reveal" in system["content"]
    assert f"[1] {reply['sources'][0]['title']}" in system["content"]  # passages with their ids
    assert "[2] " in system["content"]
    assert turns[-1] == {"role": "user", "content": QUESTION}
    assert turns[:2] == [{"role": "user", "content": "Hello there, do you send orders abroad?"},
                         {"role": "assistant", "content": "We deliver to 45 countries."}]
    with client.application.app_context():
        from chatdesk.extensions import db
        from chatdesk.store.models import Message

        stored = db.session.get(Message, int(reply["id"]))
        assert stored is not None and (stored.prompt_tokens, stored.completion_tokens) == (321, 23)


def test_emails_and_phone_numbers_never_reach_the_llm(client: FlaskClient,
                                                     fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(GROUNDED, GROUNDED)
    chat = open_chat(client)
    chat.ask("I'm jo.bloggs@example.com, phone +44 7700 900123. Do you deliver abroad?")
    chat.ask(QUESTION)
    sent = json.dumps([request.messages for request in fake_openai.chat_requests])
    assert "jo.bloggs@example.com" not in sent and "7700 900123" not in sent
    assert "[email]" in sent and "[phone]" in sent


def test_history_is_trimmed_to_the_token_budget(tmp_path: Path, demo_sqlite: Path,
                                                fake_openai: FakeOpenAIServer) -> None:
    app = llm_app(tmp_path, demo_sqlite, fake_openai.base_url, llm_history_tokens=60,
                  history_turns=10)
    chat = open_chat(app.test_client())
    for n in range(6):
        fake_openai.queue(f"Answer number {n} about delivery [1].")
        chat.ask(f"Question number {n}: how long does UK delivery take, and what does it cost?")
    fake_openai.queue(GROUNDED)
    chat.ask(QUESTION)
    turns = fake_openai.chat_requests[-1].messages[1:]
    assert turns[-1]["content"] == QUESTION
    history = turns[:-1]
    assert 0 < len(history) < 12  # the oldest turns were dropped
    assert "Question number 5" in history[-2]["content"]  # the newest kept
    assert all("Question number 0" not in t["content"] for t in history)
    app.extensions["chatdesk"].llm.close()


def test_streaming_sends_deltas_then_the_stored_reply(client: FlaskClient,
                                                      fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(GROUNDED, chunk_delay=0.01))
    chat = open_chat(client)
    response = client.post(f"/api/v1/conversations/{chat.id}/messages", json={"text": QUESTION},
                           headers={**chat.headers, "Accept": "text/event-stream"})
    assert response.status_code == 201 and response.mimetype == "text/event-stream"
    events = parse(response.get_data(as_text=True))
    assert [e for e, _ in events][0] == "message" and [e for e, _ in events][-1] == "reply"
    deltas = [d["text"] for e, d in events if e == "delta"]
    assert len(deltas) > 3
    reply = events[-1][1]["reply"]
    assert "".join(deltas).strip() == reply["text"] == (
        "Standard delivery to Australia costs £12.95, and it is free over £150.")
    assert reply["answered_by"] == "llm"
    assert fake_openai.chat_requests[-1].body["stream"] is True
    assert chat.get()["messages"][-1]["text"] == reply["text"]


def parse(body: str) -> list[tuple[str, Any]]:
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def test_without_an_llm_the_same_endpoint_streams_the_embedded_answer(tmp_path: Path,
                                                                       demo_sqlite: Path) -> None:
    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")
    client = create_app(make_settings(tmp_path)).test_client()
    chat = open_chat(client)
    response = client.post(f"/api/v1/conversations/{chat.id}/messages", json={"text": QUESTION},
                           headers={**chat.headers, "Accept": "text/event-stream"})
    events = parse(response.get_data(as_text=True))
    assert [e for e, _ in events] == ["message", "delta", "reply"]
    assert events[1][1]["text"] == events[2][1]["reply"]["text"]
    assert events[2][1]["reply"]["answered_by"] == "retrieval"


FAILURES = {
    "timeout": lambda: ScriptedReply(first_byte_delay=LLM_TIMEOUT + 1.5),
    "rate_limited": lambda: ScriptedReply.error(429, retry_after=0.01),
    "server_error": lambda: ScriptedReply.error(503),
    "malformed": ScriptedReply.malformed_json,
    "empty": lambda: ScriptedReply("   "),
    "no choices": lambda: ScriptedReply(no_choices=True),
    "ungrounded": lambda: ScriptedReply("Delivery to Australia costs £12.95."),
    "unknown citation": lambda: ScriptedReply("It costs £12.95 [7]."),
}
OUTCOME = {"timeout": "timeout", "rate_limited": "rate_limited", "server_error": "server_error",
           "malformed": "malformed", "empty": "empty", "no choices": "malformed",
           "ungrounded": "ungrounded", "unknown citation": "ungrounded"}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failing_llm_degrades_to_the_answer_without_it(
        tmp_path: Path, demo_sqlite: Path, fake_openai: FakeOpenAIServer, failure: str,
        stream: bool) -> None:
    plain = retrieval_answer(tmp_path / "plain", demo_sqlite)
    app = llm_app(tmp_path, demo_sqlite, fake_openai.base_url, reply_cache_ttl=0)
    client = app.test_client()
    before = metric(client, "chatdesk_llm_calls_total", outcome=OUTCOME[failure])
    fake_openai.queue(*[FAILURES[failure]() for _ in range(3)])
    chat = open_chat(client)
    started = time.monotonic()
    reply = say(client, chat, QUESTION, stream)
    elapsed = time.monotonic() - started
    assert reply["answered_by"] == "retrieval"
    assert reply["text"] == plain["text"] and reply["sources"] == plain["sources"]
    assert elapsed < LLM_TIMEOUT + 1.0  # within the configured budget (plus the local work)
    assert metric(client, "chatdesk_llm_calls_total", outcome=OUTCOME[failure]) == before + 1
    assert chat.get()["messages"][-1]["id"] == reply["id"]
    app.extensions["chatdesk"].llm.close()


def say(client: FlaskClient, chat: Chat, text: str, stream: bool) -> dict[str, Any]:
    if not stream:
        return chat.ask(text)
    response = client.post(f"/api/v1/conversations/{chat.id}/messages", json={"text": text},
                           headers={**chat.headers, "Accept": "text/event-stream"})
    assert response.status_code == 201
    reply: dict[str, Any] = parse(response.get_data(as_text=True))[-1][1]["reply"]
    return reply


def retrieval_answer(instance: Path, demo_sqlite: Path) -> dict[str, Any]:
    instance.mkdir()
    shutil.copy(demo_sqlite, instance / "chatdesk.db")
    return open_chat(create_app(make_settings(instance)).test_client()).ask(QUESTION)


def test_a_refused_connection_degrades_too(tmp_path: Path, demo_sqlite: Path, closed_port: int) -> None:
    app = llm_app(tmp_path, demo_sqlite, f"http://127.0.0.1:{closed_port}/v1")
    client = app.test_client()
    before = metric(client, "chatdesk_llm_calls_total", outcome="connection")
    reply = open_chat(client).ask(QUESTION)
    assert reply["answered_by"] == "retrieval"
    assert metric(client, "chatdesk_llm_calls_total", outcome="connection") == before + 1
    app.extensions["chatdesk"].llm.close()


def test_an_open_circuit_stops_calling_the_llm(tmp_path: Path, demo_sqlite: Path,
                                               fake_openai: FakeOpenAIServer) -> None:
    app = llm_app(tmp_path, demo_sqlite, fake_openai.base_url, llm_breaker_failures=2,
                  llm_max_retries=0, reply_cache_ttl=0)
    client = app.test_client()
    fake_openai.queue(*[ScriptedReply.error(500) for _ in range(2)])
    for _ in range(2):
        assert open_chat(client).ask(QUESTION)["answered_by"] == "retrieval"
    calls = len(fake_openai.chat_requests)
    assert open_chat(client).ask(QUESTION)["answered_by"] == "retrieval"
    assert len(fake_openai.chat_requests) == calls  # rejected without a request
    assert metric(client, "chatdesk_llm_calls_total", outcome="circuit_open") >= 1
    app.extensions["chatdesk"].llm.close()


def test_an_out_of_scope_question_gets_the_fallback_without_an_llm_call(
        client: FlaskClient, fake_openai: FakeOpenAIServer) -> None:
    reply = open_chat(client).ask("What is the capital of Peru?")
    assert reply["answered_by"] == "fallback"
    assert fake_openai.chat_requests == []


def test_llm_replies_are_cached_until_the_knowledge_or_the_settings_change(
        tmp_path: Path, demo_sqlite: Path, fake_openai: FakeOpenAIServer) -> None:
    app = llm_app(tmp_path, demo_sqlite, fake_openai.base_url)
    client = app.test_client()
    fake_openai.queue(GROUNDED, GROUNDED, GROUNDED)
    first = open_chat(client).ask(QUESTION)
    second = open_chat(client).ask(QUESTION.lower())
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["answered_by"] == "llm" and second["text"] == first["text"]
    assert len(fake_openai.chat_requests) == 1
    assert metric(client, "chatdesk_reply_cache_total", result="hit") >= 1

    article = tmp_path / "australia-post-strike.md"
    article.write_text("# Australia Post strike\n\n## Delays\n\nParcels to Australia may be a week late.\n")
    with app.app_context():
        from chatdesk.services import knowledge
        from chatdesk.services.runtime import current_runtime

        knowledge.ingest_files([article], current_runtime().embedder())
    assert not open_chat(client).ask(QUESTION)["cached"]
    assert len(fake_openai.chat_requests) == 2

    app.extensions["chatdesk"].llm.close()


@pytest.mark.redis
def test_changing_the_llm_settings_invalidates_cached_replies(
        tmp_path: Path, demo_sqlite: Path, fake_openai: FakeOpenAIServer, redis_url: str) -> None:
    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")

    def server(model: str) -> Flask:
        return create_app(make_settings(tmp_path, llm_base_url=fake_openai.base_url, llm_model=model,
                                        redis_url=redis_url))

    fake_openai.queue(GROUNDED, GROUNDED)
    apps = [server("model-a"), server("model-a"), server("model-b")]
    replies = [open_chat(a.test_client()).ask(QUESTION) for a in apps]
    assert [r["cached"] for r in replies] == [False, True, False]
    assert [r["model"] for r in fake_openai.chat_requests for r in [r.body]] == ["model-a", "model-b"]
    for a in apps:
        a.extensions["chatdesk"].llm.close()


def test_a_customer_who_leaves_mid_stream_still_has_the_whole_reply_stored(
        app: Flask, fake_openai: FakeOpenAIServer) -> None:
    import http.client
    from urllib.parse import urlparse

    from tests.support.servers import serve_in_thread

    fake_openai.queue(ScriptedReply(GROUNDED, chunk_delay=0.1))
    chat = open_chat(app.test_client())
    with serve_in_thread(app) as url:
        address = urlparse(url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        connection.request("POST", f"/api/v1/conversations/{chat.id}/messages",
                           body=json.dumps({"text": QUESTION}),
                           headers={**chat.headers, "Content-Type": "application/json",
                                    "Accept": "text/event-stream"})
        response = connection.getresponse()
        seen = ""
        while "event: delta" not in seen:
            seen += response.readline().decode()
        connection.close()  # the customer closes the tab mid-answer
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            messages = chat.get()["messages"]
            if messages[-1]["role"] == "bot":
                break
            time.sleep(0.1)
    assert messages[-1]["answered_by"] == "llm"
    assert messages[-1]["text"] == "Standard delivery to Australia costs £12.95, and it is free over £150."


def test_closing_the_reply_stream_early_finishes_and_stores_the_reply(
        app: Flask, fake_openai: FakeOpenAIServer) -> None:
    from chatdesk.engine.types import Delta
    from chatdesk.services import conversations

    fake_openai.queue(ScriptedReply(GROUNDED, chunk_delay=0.02))
    chat = open_chat(app.test_client())
    with app.test_request_context():
        conversation = conversations.authorize(chat.id, chat.token)
        received = conversations.receive_message(conversation, QUESTION)
        stream = conversations.reply_stream(conversation, received)
        first = next(stream)
        assert isinstance(first, Delta) and first.text
        stream.close()  # what the server does when the client has gone
    stored = chat.get()["messages"][-1]
    assert stored["role"] == "bot" and stored["answered_by"] == "llm"
    assert stored["text"].endswith("free over £150.")

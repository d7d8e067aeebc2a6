"""The official openai SDK talks to chatdesk as if it were a model."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import openai
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from chatdesk import create_app
from chatdesk.cli.keys import keys_group
from chatdesk.extensions import db
from chatdesk.store.models import ApiKey, Conversation
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.support.servers import serve_in_thread

QUESTION = "How do I reset my password?"


def new_key(app: Flask, name: str = "website") -> str:
    result = app.test_cli_runner().invoke(keys_group, ["create", name, "--json"])
    assert result.exit_code == 0, result.output
    key: str = json.loads(result.stdout)["key"]
    return key


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def sdk(app: Flask, served: str) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=f"{served}/v1", api_key=new_key(app), max_retries=0, timeout=20)
    yield client
    client.close()


def test_keys_are_shown_once_and_stored_as_hashes(app: Flask) -> None:
    key = new_key(app, "support site")
    assert key.startswith("cdk_") and len(key) > 40
    with app.app_context():
        stored = db.session.scalar(select(ApiKey).where(ApiKey.name == "support site"))
        assert stored is not None and key not in (stored.key_hash, stored.prefix)
        assert stored.prefix == key[:10]
    listing = app.test_cli_runner().invoke(keys_group, ["list"]).output
    assert "support site" in listing and key not in listing


def test_models(sdk: openai.OpenAI) -> None:
    assert [m.id for m in sdk.models.list()] == ["chatdesk"]


def test_a_completion_runs_the_reply_pipeline(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(model="chatdesk", messages=[
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": QUESTION}])
    answer = completion.choices[0].message
    assert answer.role == "assistant" and "password" in (answer.content or "").lower()
    assert completion.choices[0].finish_reason == "stop"
    extension = completion.model_extra["chatdesk"]  # type: ignore[index]
    assert extension["answered_by"] == "retrieval"
    assert extension["sources"][0]["id"] == "password-reset-and-login-problems"
    assert completion.usage is not None and completion.usage.total_tokens == 0  # no LLM spent


def test_a_streamed_completion(sdk: openai.OpenAI, app: Flask) -> None:
    stream = sdk.chat.completions.create(model="chatdesk", stream=True,
                                         stream_options={"include_usage": True},
                                         messages=[{"role": "user", "content": QUESTION}])
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage
    text = "".join(pieces)
    assert "password" in text.lower() and finish == "stop" and usage is not None
    with app.app_context():
        from chatdesk.store.models import Message

        stored = db.session.scalars(select(Message).order_by(Message.id.desc())).first()
        assert stored is not None and stored.text == text


def test_follow_ups_use_the_history_the_client_sends(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(model="chatdesk", messages=[
        {"role": "user", "content": "How much is standard delivery in the UK?"},
        {"role": "assistant", "content": "Standard UK delivery costs £3.95."},
        {"role": "user", "content": "and express?"}])
    assert completion.model_extra["chatdesk"]["answered_by"] == "retrieval"  # type: ignore[index]


def test_with_an_llm_configured_it_answers(tmp_path: Path, demo_sqlite: Path,
                                           fake_openai: FakeOpenAIServer) -> None:
    shutil.copy(demo_sqlite, tmp_path / "chatdesk.db")
    app = create_app(make_settings(tmp_path, llm_base_url=fake_openai.base_url, llm_model="fake"))
    fake_openai.queue("Use the 'Forgot password' link on the sign-in page [1].")
    with serve_in_thread(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=new_key(app), max_retries=0)
        completion = client.chat.completions.create(
            model="chatdesk", messages=[{"role": "user", "content": QUESTION}])
        client.close()
    assert completion.choices[0].message.content == "Use the 'Forgot password' link on the sign-in page."
    assert completion.model_extra["chatdesk"]["answered_by"] == "llm"  # type: ignore[index]
    app.extensions["chatdesk"].llm.close()


def test_content_as_text_parts_and_tool_turns(sdk: openai.OpenAI, app: Flask) -> None:
    """Tools built on the SDK send content as a list of parts, and assistant turns that only
    called a tool (content null) followed by the tool's result; the bot reads the text."""
    completion = sdk.chat.completions.create(model="chatdesk", messages=[  # type: ignore[misc]
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "How much is standard delivery"},
                                     {"type": "text", "text": "in the UK?"}]},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "nothing found"},
        {"role": "assistant", "content": [{"type": "text", "text": "Standard UK delivery costs £3.95."}]},
        {"role": "user", "content": [{"type": "text", "text": "and express?"}]}])
    extension = completion.model_extra["chatdesk"]  # type: ignore[index]
    assert extension["answered_by"] == "retrieval"
    with app.app_context():
        from chatdesk.store.models import Message

        stored = db.session.scalars(select(Message).order_by(Message.id.desc()).limit(2)).all()
    assert stored[1].text == "and express?"
    alone = sdk.chat.completions.create(model="chatdesk", messages=[
        {"role": "user", "content": [{"type": "text", "text": "and express?"}]}])
    assert alone.model_extra["chatdesk"]["answered_by"] == "fallback"  # type: ignore[index]


@pytest.mark.parametrize(("messages", "param"), [
    ([], "messages"),
    ([{"role": "wizard", "content": "hi"}], "messages.0.role"),
    ([{"role": "user", "content": [{"type": "text", "text": "hi"},
                                   {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
     "messages.0.content.1"),
    ([{"role": "user", "content": [{"type": "text", "text": 7}]}], "messages.0.content"),
    ([{"role": "user", "content": 42}], "messages.0.content"),
    ([{"role": "user", "content": None}], "messages"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "messages"),
    ([{"role": "user", "content": "   "}], "messages"),
])
def test_bad_requests_get_openai_errors(sdk: openai.OpenAI, app: Flask, messages: list[dict[str, Any]],
                                        param: str) -> None:
    before = conversation_count(app)
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="chatdesk", messages=messages)  # type: ignore[arg-type]
    assert raised.value.status_code == 400
    body = raised.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error"
    assert body["param"] == param
    assert conversation_count(app) == before  # nothing stored


def conversation_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Conversation)) or 0


def test_unknown_model_and_wrong_key(sdk: openai.OpenAI, served: str) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    wrong = openai.OpenAI(base_url=f"{served}/v1", api_key="cdk_not-a-real-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        wrong.chat.completions.create(model="chatdesk", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.code == "invalid_api_key"
    wrong.close()


def raw_post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        with urlopen(Request(url, data=data, headers=headers, method="POST"), timeout=20) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(("data", "content_type", "status"), [
    (b'{"model": "chatdesk", "messages": [', "application/json", 400),
    (b'{"model": "chatdesk", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json", 400),
    (b'{"model": "chatdesk", "messages": [{"role": "user", "content": "a\\u0000b"}]}',
     "application/json", 400),
    (b"model=chatdesk", "application/x-www-form-urlencoded", 400),
    (b'{"model": "chatdesk", "messages": [{"role": "user", "content": "' + b"x" * (2 << 20) + b'"}]}',
     "application/json", 413),
])
def test_malformed_and_huge_payloads(app: Flask, served: str, data: bytes, content_type: str,
                                     status: int) -> None:
    headers = {"Authorization": f"Bearer {new_key(app)}", "Content-Type": content_type}
    code, body = raw_post(f"{served}/v1/chat/completions", data, headers)
    assert code == status
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_a_revoked_key_stops_working(app: Flask, served: str) -> None:
    key = new_key(app, "old")
    with app.app_context():
        key_id = db.session.scalar(select(ApiKey.id).where(ApiKey.name == "old"))
    app.test_cli_runner().invoke(keys_group, ["revoke", str(key_id)])
    request = {"model": "chatdesk", "messages": [{"role": "user", "content": "hi"}]}
    code, body = raw_post(f"{served}/v1/chat/completions", json.dumps(request).encode(),
                          {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert code == 401 and body["error"]["code"] == "invalid_api_key"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
TEXT_PARTS = st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=40)}),
                      min_size=1, max_size=3)
PARTS = st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "input_audio", ""]),
                                        "text": st.text(max_size=40) | JSON_VALUES}), max_size=3)
CONTENT = st.text(max_size=80) | TEXT_PARTS
ROLES = st.sampled_from(["user", "assistant", "system", "developer", "tool", "function"])
WELL_FORMED = st.tuples(
    st.lists(st.fixed_dictionaries({"role": ROLES, "content": CONTENT | st.none()}), max_size=3),
    st.fixed_dictionaries({"role": st.just("user"), "content": CONTENT}),
).map(lambda pair: [*pair[0], pair[1]])
ANY_SHAPE = st.lists(st.fixed_dictionaries({"role": ROLES | st.just("wizard") | JSON_VALUES,
                                            "content": CONTENT | PARTS | JSON_VALUES}), max_size=4)
MESSAGES = WELL_FORMED | ANY_SHAPE
QUESTIONS = st.text(max_size=80) | st.sampled_from(["How do I reset my password?", "and express?"])
REQUESTS = st.fixed_dictionaries(
    {"model": st.just("chatdesk"),
     "messages": WELL_FORMED | st.builds(lambda q: [{"role": "user", "content": q}], QUESTIONS)},
    optional={"stream": st.booleans(),
              "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()})})
BODIES = REQUESTS | st.fixed_dictionaries(
    {"model": st.just("chatdesk") | JSON_VALUES, "messages": ANY_SHAPE | JSON_VALUES},
    optional={"stream": JSON_VALUES, "stream_options": JSON_VALUES}) | JSON_VALUES


def test_generated_requests_get_an_answer_or_an_openai_error(app: Flask) -> None:
    """Whatever JSON arrives: a completion (streamed or not), or a 4xx in OpenAI's shape with
    nothing stored; never a server error."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {new_key(app)}"}

    @given(body=BODIES)
    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def answered_or_refused(body: Any) -> None:
        before = conversation_count(app)
        response = client.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status_code < 500, response.get_data(as_text=True)
        if response.status_code >= 400:
            assert set(response.get_json()["error"]) == {"message", "type", "param", "code"}
            assert conversation_count(app) == before
        elif response.mimetype == "text/event-stream":
            assert response.get_data(as_text=True).endswith("data: [DONE]\n\n")
        else:
            assert response.get_json()["choices"][0]["message"]["role"] == "assistant"

    answered_or_refused()

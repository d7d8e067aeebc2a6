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
from sqlalchemy import select

from chatdesk import create_app
from chatdesk.cli.keys import keys_group
from chatdesk.extensions import db
from chatdesk.store.models import ApiKey
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


@pytest.mark.parametrize(("messages", "param"), [
    ([], "messages"),
    ([{"role": "wizard", "content": "hi"}], "messages.0.role"),
    ([{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "messages.0.content"),
    ([{"role": "user", "content": 42}], "messages.0.content"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "messages"),
    ([{"role": "user", "content": "   "}], "messages"),
])
def test_bad_requests_get_openai_errors(sdk: openai.OpenAI, messages: list[dict[str, Any]],
                                        param: str) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="chatdesk", messages=messages)  # type: ignore[arg-type]
    assert raised.value.status_code == 400
    body = raised.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error"
    assert body["param"] == param


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

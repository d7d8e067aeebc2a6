"""The fake OpenAI-compatible server itself: routes, recording, concurrency, clean shutdown."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import openai
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, ScriptedReply


def post(url: str, body: dict[str, Any], timeout: float = 5) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def test_it_streams_sse_chunks_ending_with_usage_and_done(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(chunks=["Hi ", "there."], prompt_tokens=9, completion_tokens=2))
    status, raw = post(fake_openai.base_url + "/chat/completions",
                       {"model": "m", "stream": True, "stream_options": {"include_usage": True},
                        "messages": [{"role": "user", "content": "hello"}]})

    assert status == 200
    events = [line.removeprefix("data: ") for line in raw.decode().split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks[:3]] == ["", "Hi ", "there."]
    assert chunks[3]["choices"][0]["finish_reason"] == "stop"
    assert chunks[4]["choices"] == [] and chunks[4]["usage"]["total_tokens"] == 11


def test_errors_have_openais_error_body(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply.error(429, "Rate limit reached", retry_after=2))
    status, raw = post(fake_openai.base_url + "/chat/completions", {"model": "m", "messages": []})

    assert status == 429
    assert json.loads(raw) == {"error": {"message": "Rate limit reached", "type": "requests",
                                         "param": None, "code": "rate_limit_exceeded"}}


def test_it_records_method_path_headers_and_body(fake_openai: FakeOpenAIServer) -> None:
    with openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-abc", max_retries=0) as client:
        client.chat.completions.create(model="fake-model", temperature=0.3,
                                       messages=[{"role": "user", "content": "hello"}])

    [request] = fake_openai.chat_requests
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-abc"
    assert request.body == {"model": "fake-model", "temperature": 0.3,
                            "messages": [{"role": "user", "content": "hello"}]}
    assert request.messages == [{"role": "user", "content": "hello"}]


def test_replies_are_used_in_order_then_the_default(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue("first", "second")
    texts = []
    with openai.OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0) as client:
        for _ in range(3):
            reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            texts.append(reply.choices[0].message.content)
    assert texts == ["first", "second", "This is the fake model's answer."]
    assert fake_openai.pending == 0


def test_unknown_paths_and_azure_calls_without_an_api_version_are_404(fake_openai: FakeOpenAIServer) -> None:
    assert post(fake_openai.url + "/v1/embeddings", {})[0] == 404
    assert post(fake_openai.url + "/openai/deployments/d/chat/completions", {"messages": []})[0] == 404
    status, _ = post(fake_openai.url + "/openai/deployments/d/chat/completions?api-version=2024-10-21",
                     {"messages": []})
    assert status == 200
    assert fake_openai.requests[-1].deployment == "d"


def test_it_serves_requests_concurrently(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.default_reply = ScriptedReply(chunks=["a ", "b ", "c"], chunk_delay=0.1)
    statuses: list[int] = []

    def call() -> None:
        statuses.append(post(fake_openai.base_url + "/chat/completions",
                             {"model": "m", "stream": True, "messages": []})[0])

    threads = [threading.Thread(target=call) for _ in range(6)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 6
    assert time.monotonic() - started < 6 * 0.3 / 2


def test_stopping_interrupts_a_hanging_reply_and_joins_every_thread() -> None:
    server = FakeOpenAIServer().start()
    server.queue(ScriptedReply(first_byte_delay=30))
    threads_before = threading.active_count()
    errors: list[BaseException] = []

    def hang() -> None:
        try:
            post(server.base_url + "/chat/completions", {"messages": []}, timeout=10)
        except OSError as error:
            errors.append(error)

    client = threading.Thread(target=hang)
    client.start()
    deadline = time.monotonic() + 2
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)

    started = time.monotonic()
    server.stop()
    client.join(5)

    assert time.monotonic() - started < 1.0
    assert not client.is_alive() and len(errors) == 1  # the client saw the connection end
    assert threading.active_count() <= threads_before - 1  # the server thread is gone too
    assert server.errors == []
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port

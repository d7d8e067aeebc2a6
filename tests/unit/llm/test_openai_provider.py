"""The OpenAI-compatible adapter, through the official SDK, against the fake server on loopback."""

from __future__ import annotations

import threading
import time

import pytest

from chatdesk.llm import (
    ChatMessage,
    Completion,
    FailureKind,
    LLMAuthError,
    LLMBadRequest,
    LLMConnectionError,
    LLMEmptyResponse,
    LLMError,
    LLMMalformedResponse,
    LLMRateLimited,
    LLMServerError,
    LLMTimeout,
    Provider,
    StreamDone,
    TextDelta,
    WordPieceCounter,
)
from chatdesk.llm.tokens import count_messages
from tests.fakes.openai_server import FakeOpenAIServer, ScriptedReply
from tests.unit.llm.conftest import MakeProvider
from tests.unit.llm.support import RecordingSleep

QUESTION: list[ChatMessage] = [{"role": "system", "content": "Answer briefly."},
                               {"role": "user", "content": "How long does delivery take?"}]
ANSWER = "Standard delivery takes 3 to 5 working days [1]."


# -- success -----------------------------------------------------------------------------------------

def test_complete_returns_the_text_usage_and_model_the_server_sent(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(ANSWER, prompt_tokens=42, completion_tokens=11, model="fake-model-0613"))

    completion = make_provider().complete(QUESTION)

    assert completion.text == ANSWER
    assert (completion.prompt_tokens, completion.completion_tokens) == (42, 11)
    assert completion.total_tokens == 53 and not completion.usage_estimated
    assert completion.model == "fake-model-0613" and completion.finish_reason == "stop"
    assert completion.retries == 0 and completion.time_to_first_token is None and completion.latency > 0


def test_complete_sends_the_messages_model_settings_and_key(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer) -> None:
    make_provider(temperature=0.1, max_tokens=123).complete(QUESTION)

    [request] = fake_openai.requests
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-123"
    assert request.body["model"] == "fake-model"
    assert request.body["messages"] == QUESTION
    assert request.body["temperature"] == 0.1 and request.body["max_tokens"] == 123
    assert not request.body.get("stream")


def test_a_call_can_override_temperature_and_max_tokens(
        provider: Provider, fake_openai: FakeOpenAIServer) -> None:
    provider.complete(QUESTION, temperature=0.0, max_tokens=7)
    assert fake_openai.requests[0].body["temperature"] == 0.0
    assert fake_openai.requests[0].body["max_tokens"] == 7


def test_without_usage_from_the_server_tokens_are_counted_locally_and_marked_estimated(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer, counter: WordPieceCounter) -> None:
    fake_openai.queue(ScriptedReply(ANSWER, usage=False))

    completion = make_provider().complete(QUESTION)

    assert completion.usage_estimated
    assert completion.prompt_tokens == count_messages(QUESTION, counter)
    assert completion.completion_tokens == counter.count(ANSWER) > 0


def test_stream_yields_the_deltas_in_order_then_the_completion_with_usage(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(chunks=["Standard ", "delivery ", "takes ", "3 days [1]."],
                                    prompt_tokens=30, completion_tokens=4))

    events = list(make_provider().stream(QUESTION))

    assert events[:-1] == [TextDelta("Standard "), TextDelta("delivery "), TextDelta("takes "),
                           TextDelta("3 days [1].")]
    done = events[-1]
    assert isinstance(done, StreamDone)
    assert done.completion.text == "Standard delivery takes 3 days [1]."
    assert (done.completion.prompt_tokens, done.completion.completion_tokens) == (30, 4)
    assert not done.completion.usage_estimated and done.completion.finish_reason == "stop"
    body = fake_openai.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_stream_measures_time_to_first_token(make_provider: MakeProvider,
                                             fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(chunks=["One ", "two ", "three."], chunk_delay=0.1))

    started = time.monotonic()
    stream = make_provider().stream(QUESTION)
    returned_after = time.monotonic() - started
    pieces = list(stream.text())

    assert pieces == ["One ", "two ", "three."]
    assert stream.time_to_first_token is not None and stream.completion is not None
    assert 0.1 <= stream.time_to_first_token <= returned_after
    assert stream.completion.time_to_first_token == stream.time_to_first_token
    assert stream.completion.latency >= stream.time_to_first_token + 0.18  # two more delayed pieces


def test_stream_counts_usage_locally_when_the_server_sends_none(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer, counter: WordPieceCounter) -> None:
    fake_openai.queue(ScriptedReply(ANSWER, usage=False))

    stream = make_provider().stream(QUESTION)
    text = "".join(stream.text())

    assert text == ANSWER and stream.completion is not None
    assert stream.completion.usage_estimated
    assert stream.completion.completion_tokens == counter.count(ANSWER)


def test_stream_without_stream_usage_does_not_ask_for_it(make_provider: MakeProvider,
                                                          fake_openai: FakeOpenAIServer) -> None:
    stream = make_provider(stream_usage=False).stream(QUESTION)
    stream.close()
    assert "stream_options" not in fake_openai.requests[0].body


def test_leading_blanks_of_a_stream_are_not_given_out(make_provider: MakeProvider,
                                                       fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(chunks=["  ", "\n", "Hello", " there."]))
    assert list(make_provider().stream(QUESTION).text()) == ["Hello", " there."]


def test_list_models_reads_the_endpoint(provider: Provider, fake_openai: FakeOpenAIServer) -> None:
    assert provider.list_models() == ["fake-model"]
    assert fake_openai.requests[0].path == "/v1/models"


def test_concurrent_calls_share_one_provider(make_provider: MakeProvider,
                                             fake_openai: FakeOpenAIServer) -> None:
    provider = make_provider()
    fake_openai.default_reply = ScriptedReply(ANSWER, first_byte_delay=0.3)
    results: list[Completion] = []

    def ask() -> None:
        results.append(provider.complete(QUESTION))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.text for r in results] == [ANSWER] * 4
    assert time.monotonic() - started < 0.3 * 4 * 0.75  # served side by side, not one after another


# -- failures ---------------------------------------------------------------------------------------

def test_a_server_slower_than_the_timeout_is_a_timeout(make_provider: MakeProvider,
                                                       fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(first_byte_delay=3))
    provider = make_provider(timeout=0.2, max_retries=0)

    started = time.monotonic()
    with pytest.raises(LLMTimeout) as caught:
        provider.complete(QUESTION)

    assert caught.value.kind is FailureKind.TIMEOUT and caught.value.retryable
    assert time.monotonic() - started < 1.5


def test_a_timeout_is_retried_and_the_retry_can_succeed(make_provider: MakeProvider,
                                                        fake_openai: FakeOpenAIServer,
                                                        sleep: RecordingSleep) -> None:
    fake_openai.queue(ScriptedReply(first_byte_delay=3), ScriptedReply(ANSWER))

    completion = make_provider(timeout=0.2).complete(QUESTION)

    assert completion.text == ANSWER and completion.retries == 1
    assert len(fake_openai.requests) == 2 and len(sleep.delays) == 1


def test_a_429_is_retried_after_a_backoff_then_succeeds(make_provider: MakeProvider,
                                                       fake_openai: FakeOpenAIServer,
                                                       sleep: RecordingSleep) -> None:
    fake_openai.queue(ScriptedReply.error(429, "Rate limit reached"), ScriptedReply(ANSWER))

    completion = make_provider().complete(QUESTION)

    assert completion.text == ANSWER and completion.retries == 1
    assert len(fake_openai.requests) == 2
    assert sleep.delays == [pytest.approx(0.01)]


def test_429s_until_retries_run_out_raise_rate_limited_after_exponential_backoff(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer, sleep: RecordingSleep) -> None:
    fake_openai.queue(*[ScriptedReply.error(429, "Slow down")] * 4)

    with pytest.raises(LLMRateLimited) as caught:
        make_provider(max_retries=3).complete(QUESTION)

    assert caught.value.kind is FailureKind.RATE_LIMITED and caught.value.status_code == 429
    assert "Slow down" in caught.value.detail
    assert len(fake_openai.requests) == 4  # the first attempt and 3 retries
    assert sleep.delays == [pytest.approx(0.01), pytest.approx(0.02), pytest.approx(0.04)]


def test_retry_after_from_the_server_is_honoured_up_to_the_cap(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer, sleep: RecordingSleep) -> None:
    fake_openai.queue(ScriptedReply.error(429, retry_after=0.04), ScriptedReply.error(429, retry_after=60),
                      ScriptedReply(ANSWER))

    make_provider().complete(QUESTION)

    assert sleep.delays == [pytest.approx(0.04), pytest.approx(0.05)]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_then_raised(make_provider: MakeProvider,
                                               fake_openai: FakeOpenAIServer, status: int) -> None:
    fake_openai.queue(*[ScriptedReply.error(status)] * 2)

    with pytest.raises(LLMServerError) as caught:
        make_provider(max_retries=1).complete(QUESTION)

    assert caught.value.kind is FailureKind.SERVER_ERROR and caught.value.status_code == status
    assert len(fake_openai.requests) == 2


@pytest.mark.parametrize(("status", "error", "kind"), [
    (400, LLMBadRequest, FailureKind.BAD_REQUEST),
    (404, LLMBadRequest, FailureKind.BAD_REQUEST),
    (401, LLMAuthError, FailureKind.AUTH),
    (403, LLMAuthError, FailureKind.AUTH),
])
def test_client_errors_are_not_retried(make_provider: MakeProvider, fake_openai: FakeOpenAIServer,
                                       sleep: RecordingSleep, status: int, error: type[LLMError],
                                       kind: FailureKind) -> None:
    fake_openai.queue(ScriptedReply.error(status, "Nope"), ScriptedReply(ANSWER))

    with pytest.raises(error) as caught:
        make_provider().complete(QUESTION)

    assert caught.value.kind is kind and not caught.value.retryable
    assert caught.value.status_code == status and "Nope" in caught.value.detail
    assert len(fake_openai.requests) == 1 and sleep.delays == []


def test_connection_refused_is_a_connection_error_after_retries(make_provider: MakeProvider,
                                                               closed_port: int,
                                                               sleep: RecordingSleep) -> None:
    provider = make_provider(f"http://127.0.0.1:{closed_port}/v1")

    with pytest.raises(LLMConnectionError) as caught:
        provider.complete(QUESTION)

    assert caught.value.kind is FailureKind.CONNECTION
    assert len(sleep.delays) == 2


def test_a_connection_closed_before_any_response_is_a_connection_error(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply.drop(after=0), ScriptedReply(ANSWER))

    completion = make_provider().complete(QUESTION)

    assert completion.text == ANSWER and completion.retries == 1


@pytest.mark.parametrize("reply", [
    ScriptedReply.malformed_json(),
    ScriptedReply.not_json(),
    ScriptedReply(no_choices=True),
    ScriptedReply(null_content=True),
], ids=["truncated-json", "html", "no-choices", "null-content"])
def test_malformed_answers_are_failures_and_are_not_retried(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer, reply: ScriptedReply) -> None:
    fake_openai.queue(reply, ScriptedReply(ANSWER))

    with pytest.raises(LLMMalformedResponse) as caught:
        make_provider().complete(QUESTION)

    assert caught.value.kind is FailureKind.MALFORMED
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_an_empty_or_blank_answer_is_a_failure(make_provider: MakeProvider,
                                               fake_openai: FakeOpenAIServer, text: str) -> None:
    fake_openai.queue(ScriptedReply(text))

    with pytest.raises(LLMEmptyResponse) as caught:
        make_provider().complete(QUESTION)

    assert caught.value.kind is FailureKind.EMPTY


# -- streaming failures -------------------------------------------------------------------------------

def test_a_stream_dropped_after_text_was_given_out_fails_while_iterating_without_retry(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(chunks=["Standard ", "delivery ", "takes ", "3 days."], drop_after=2),
                      ScriptedReply(ANSWER))

    stream = make_provider().stream(QUESTION)
    received: list[str] = []
    with pytest.raises(LLMConnectionError) as caught:
        for event in stream:
            assert isinstance(event, TextDelta)
            received.append(event.text)

    assert received == ["Standard ", "delivery "]
    assert caught.value.kind is FailureKind.CONNECTION
    assert len(fake_openai.requests) == 1  # text already went out: a retry would repeat it


def test_a_stream_dropped_before_any_text_is_retried(make_provider: MakeProvider,
                                                     fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(chunks=[" ", "lost"], drop_after=1), ScriptedReply(ANSWER))

    stream = make_provider().stream(QUESTION)

    assert "".join(stream.text()) == ANSWER
    assert stream.completion is not None and stream.completion.retries == 1
    assert len(fake_openai.requests) == 2


def test_a_stream_that_ends_without_a_finish_reason_was_cut_off(make_provider: MakeProvider,
                                                                fake_openai: FakeOpenAIServer) -> None:
    chunk = ('{"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", '
             '"choices": [{"index": 0, "delta": {"content": "Half an"}, "finish_reason": null}]}')
    fake_openai.queue(ScriptedReply(events=[chunk]))

    stream = make_provider().stream(QUESTION)
    assert next(stream) == TextDelta("Half an")
    with pytest.raises(LLMConnectionError, match="before the answer was finished"):
        next(stream)


@pytest.mark.parametrize(("reply", "error"), [
    (ScriptedReply(events=["{not json"]), LLMMalformedResponse),
    (ScriptedReply(chunks=["  ", "\n"]), LLMEmptyResponse),
    (ScriptedReply.error(401), LLMAuthError),
], ids=["bad-event", "blank", "401"])
def test_failures_before_the_first_text_are_raised_by_stream_itself(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer, reply: ScriptedReply,
        error: type[LLMError]) -> None:
    fake_openai.queue(reply)
    with pytest.raises(error):
        make_provider().stream(QUESTION)
    assert len(fake_openai.requests) == 1


def test_stream_retries_a_503_then_streams(make_provider: MakeProvider, fake_openai: FakeOpenAIServer,
                                           sleep: RecordingSleep) -> None:
    fake_openai.queue(ScriptedReply.error(503), ScriptedReply(ANSWER))

    stream = make_provider().stream(QUESTION)

    assert "".join(stream.text()) == ANSWER
    assert len(fake_openai.requests) == 2 and sleep.delays == [pytest.approx(0.01)]


def test_a_stream_slower_than_the_timeout_between_chunks_times_out(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(chunks=["Quick ", "then slow"], chunk_delay=0.0),
                      ScriptedReply(chunks=["Quick ", "then slow"], chunk_delay=0.6))
    provider = make_provider(timeout=0.3, max_retries=0)
    assert "".join(provider.stream(QUESTION).text()) == "Quick then slow"

    with pytest.raises(LLMTimeout):
        provider.stream(QUESTION)


def test_closing_a_stream_early_releases_it(make_provider: MakeProvider,
                                            fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(ScriptedReply(chunks=["a ", "b ", "c"], chunk_delay=0.05))
    provider = make_provider()

    with provider.stream(QUESTION) as stream:
        assert next(stream) == TextDelta("a ")

    assert provider.breaker.consecutive_failures == 0
    assert provider.complete(QUESTION).text  # the provider is still usable


def test_the_retry_hook_sees_each_retry(make_provider: MakeProvider, fake_openai: FakeOpenAIServer) -> None:
    seen: list[tuple[FailureKind, float]] = []
    fake_openai.queue(ScriptedReply.error(500), ScriptedReply.error(429), ScriptedReply(ANSWER))
    provider = make_provider()
    provider._on_retry = lambda error, delay: seen.append((error.kind, delay))

    provider.complete(QUESTION)

    assert seen == [(FailureKind.SERVER_ERROR, pytest.approx(0.01)),
                    (FailureKind.RATE_LIMITED, pytest.approx(0.02))]


# -- Azure ------------------------------------------------------------------------------------------

def test_azure_calls_the_deployment_path_with_the_api_version_and_key(
        make_provider: MakeProvider, fake_openai: FakeOpenAIServer) -> None:
    provider = make_provider(provider="azure", base_url=None, model=None,
                             azure_endpoint=fake_openai.azure_endpoint,
                             azure_api_version="2024-10-21", azure_deployment="support-gpt")
    fake_openai.queue(ScriptedReply(ANSWER), ScriptedReply(chunks=["Streamed."]))

    assert provider.name == "azure"
    assert provider.complete(QUESTION).text == ANSWER
    assert "".join(provider.stream(QUESTION).text()) == "Streamed."

    for request in fake_openai.requests:
        assert request.path == "/openai/deployments/support-gpt/chat/completions"
        assert request.deployment == "support-gpt"
        assert request.query["api-version"] == "2024-10-21"
        assert request.headers["api-key"] == "sk-test-123"
        assert request.body["messages"] == QUESTION

"""A caller's deadline bounds the whole call, retries included."""

from __future__ import annotations

import time

import pytest

from chatdesk.llm import LLMRateLimited, LLMTimeout
from tests.fakes.openai_server import FakeOpenAIServer, ScriptedReply
from tests.unit.llm.conftest import MakeProvider
from tests.unit.llm.support import RecordingSleep

MESSAGES = [{"role": "user", "content": "hello"}]


def test_a_slow_answer_is_cut_at_the_deadline(fake_openai: FakeOpenAIServer,
                                              make_provider: MakeProvider) -> None:
    fake_openai.queue(ScriptedReply(first_byte_delay=1.5))
    provider = make_provider(timeout=5.0)
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        provider.complete(MESSAGES, deadline=time.monotonic() + 0.3)  # type: ignore[arg-type]
    assert time.monotonic() - started < 1.0


def test_no_retry_starts_that_could_not_finish_in_time(fake_openai: FakeOpenAIServer,
                                                       make_provider: MakeProvider,
                                                       sleep: RecordingSleep) -> None:
    fake_openai.queue(ScriptedReply.error(429, retry_after=1.0), "too late to matter")
    provider = make_provider(backoff_max=2.0)
    with pytest.raises(LLMRateLimited):
        provider.complete(MESSAGES, deadline=time.monotonic() + 0.5)  # type: ignore[arg-type]
    assert sleep.delays == [] and len(fake_openai.chat_requests) == 1


def test_a_retry_that_fits_is_made(fake_openai: FakeOpenAIServer, make_provider: MakeProvider) -> None:
    fake_openai.queue(ScriptedReply.error(503), "Fine on the second try [1].")
    completion = make_provider().complete(MESSAGES, deadline=time.monotonic() + 2.0)  # type: ignore[arg-type]
    assert completion.retries == 1 and completion.text.startswith("Fine")


def test_a_streamed_first_token_waits_no_longer_than_the_deadline(
        fake_openai: FakeOpenAIServer, make_provider: MakeProvider) -> None:
    fake_openai.queue(ScriptedReply(first_byte_delay=1.5))
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        make_provider(timeout=5.0).stream(MESSAGES, deadline=time.monotonic() + 0.3)  # type: ignore[arg-type]
    assert time.monotonic() - started < 1.0

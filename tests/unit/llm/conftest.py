"""Providers on the official SDK, pointed at the fake server, with short timeouts and back-off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chatdesk.llm import Provider, RetryPolicy, WordPieceCounter, build_provider
from tests.fakes.fixtures import closed_port, fake_openai
from tests.fakes.openai_server import FakeOpenAIServer
from tests.unit.llm.support import RecordingSleep, llm_config

__all__ = ["closed_port", "fake_openai"]

MakeProvider = Callable[..., Provider]


@pytest.fixture(scope="session")
def counter() -> WordPieceCounter:
    return WordPieceCounter()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_provider(fake_openai: FakeOpenAIServer, sleep: RecordingSleep,
                  counter: WordPieceCounter) -> Iterator[MakeProvider]:
    """Builds providers for the fake server (or ``base_url=...``); closes them after the test."""
    made: list[Provider] = []

    def make(base_url: str | None = None, *, retry: RetryPolicy | None = None, **overrides: Any) -> Provider:
        config = llm_config(base_url or fake_openai.base_url, **overrides)
        # Jitter pinned at its top, so each delay is base * 2**n (capped) to within a millionth.
        policy = retry or RetryPolicy(config.max_retries, config.backoff_base, config.backoff_max,
                                      random=lambda: 0.999999)
        provider = build_provider(config, sleep=sleep, counter=counter, retry=policy)
        assert provider is not None
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def provider(make_provider: MakeProvider) -> Provider:
    return make_provider()

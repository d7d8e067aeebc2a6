"""Pytest fixtures around the fakes; import them into a conftest.py to use them.

    # tests/integration/conftest.py
    from tests.fakes.fixtures import closed_port, fake_openai

    __all__ = ["closed_port", "fake_openai"]
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, free_port


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A running fake OpenAI-compatible server, stopped (threads joined) after the test."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening: connecting to it is refused."""
    return free_port()

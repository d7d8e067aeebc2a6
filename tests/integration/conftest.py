"""The fake OpenAI-compatible server, for every integration test that needs an LLM."""

from tests.fakes.fixtures import closed_port, fake_openai

__all__ = ["closed_port", "fake_openai"]

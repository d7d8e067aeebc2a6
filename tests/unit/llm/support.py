"""Helpers shared by the LLM tests."""

from __future__ import annotations

import time
from typing import Any

from chatdesk.llm import LLMConfig, PromptConfig

ACME = PromptConfig(company_name="Acme Outdoor", tone="warm and concise")


def llm_config(base_url: str, **overrides: Any) -> LLMConfig:
    """Settings for tests: short timeouts, tiny back-off, a breaker that opens after 3 failures."""
    values: dict[str, Any] = {"base_url": base_url, "api_key": "sk-test-123", "model": "fake-model",
                              "timeout": 2.0, "connect_timeout": 1.0, "max_retries": 2,
                              "backoff_base": 0.01, "backoff_max": 0.05, "breaker_failures": 3,
                              "breaker_cooldown": 0.3, "prompt": ACME}
    values.update(overrides)
    return LLMConfig(**values)


class RecordingSleep:
    """Back-off waits, recorded; they really sleep (they are tiny in tests)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        time.sleep(seconds)

"""LLM settings as plain, immutable values; the app's settings object maps its fields onto these."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from chatdesk.errors import ConfigError

#: Bumped whenever the wording of the system prompt changes, so cached replies of the old
#: prompt are not served (it is part of :meth:`LLMConfig.fingerprint`).
SYSTEM_PROMPT_VERSION = "1"

OPENAI = "openai"
AZURE = "azure"


@dataclass(frozen=True)
class PromptConfig:
    """What shapes the grounded prompt: who the bot speaks for, and how much it may send."""

    company_name: str = "our company"
    tone: str = "friendly, clear and professional"
    #: Budget for the whole prompt (system rules, passages, history, question), in estimated tokens.
    max_prompt_tokens: int = 3000
    #: At most this much of the budget goes to earlier turns of the conversation.
    history_tokens: int = 800

    def __post_init__(self) -> None:
        if self.max_prompt_tokens < 1 or self.history_tokens < 0:
            raise ConfigError("The LLM prompt budgets must be positive token counts "
                              f"(got max_prompt_tokens={self.max_prompt_tokens}, "
                              f"history_tokens={self.history_tokens}).")


@dataclass(frozen=True)
class LLMConfig:
    """How to reach the model and how to call it.

    ``provider`` is ``openai`` (any OpenAI-compatible endpoint: OpenAI, vLLM, Ollama, llama.cpp
    server...) or ``azure``; left empty, it is ``azure`` when an Azure endpoint is given.
    """

    provider: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    temperature: float = 0.2
    max_tokens: int = 400
    #: Seconds to wait for each read (the first token, then each gap between chunks).
    timeout: float = 30.0
    connect_timeout: float = 5.0
    #: Retries after the first attempt, on timeouts, connection errors, 429 and 5xx only.
    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    #: Consecutive failed calls that open the circuit, and how long it stays open.
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0
    #: Ask for token usage at the end of a stream (``stream_options.include_usage``).
    stream_usage: bool = True
    azure_endpoint: str | None = None
    azure_api_version: str | None = None
    azure_deployment: str | None = None
    prompt: PromptConfig = field(default_factory=PromptConfig)

    def __post_init__(self) -> None:
        problems = []
        if self.timeout <= 0 or self.connect_timeout <= 0:
            problems.append("timeouts must be positive seconds")
        if self.max_retries < 0:
            problems.append("max_retries cannot be negative")
        if self.backoff_base < 0 or self.backoff_max < 0:
            problems.append("backoff delays cannot be negative")
        if self.breaker_failures < 1 or self.breaker_cooldown < 0:
            problems.append("breaker_failures must be at least 1 and breaker_cooldown not negative")
        if self.max_tokens < 1:
            problems.append("max_tokens must be at least 1")
        if not 0 <= self.temperature <= 2:
            problems.append("temperature must be between 0 and 2")
        if problems:
            raise ConfigError("Invalid LLM settings: " + "; ".join(problems) + ".")

    @property
    def provider_name(self) -> str:
        if self.provider:
            return self.provider.strip().lower()
        return AZURE if self.azure_endpoint else OPENAI

    @property
    def deployment(self) -> str | None:
        """On Azure the deployment plays the model's part."""
        return self.azure_deployment or self.model

    @property
    def is_configured(self) -> bool:
        """Whether an LLM was asked for at all; without one the bot answers from the knowledge base."""
        if self.provider_name == AZURE:
            return bool(self.azure_endpoint and self.deployment)
        return bool(self.base_url and self.model)

    def fingerprint(self) -> str:
        """A stable short hash of the settings that change answers, for the reply cache key.

        Secrets, timeouts, retries and the breaker do not change what the model says, so they
        are left out: changing them keeps the cache.
        """
        azure = self.provider_name == AZURE
        endpoint = (self.azure_endpoint if azure else self.base_url) or ""
        material = {
            "provider": self.provider_name,
            "base_url": endpoint.strip().rstrip("/"),
            "model": (self.deployment if azure else self.model) or "",
            "api_version": (self.azure_api_version or "") if azure else "",
            "temperature": round(self.temperature, 4),
            "max_tokens": self.max_tokens,
            "system_prompt": SYSTEM_PROMPT_VERSION,
            "company_name": self.prompt.company_name,
            "tone": self.prompt.tone,
            "max_prompt_tokens": self.prompt.max_prompt_tokens,
            "history_tokens": self.prompt.history_tokens,
        }
        canonical = json.dumps(material, sort_keys=True, separators=(",", ":"))
        return f"{self.provider_name}:{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


def fingerprint(config: LLMConfig | None) -> str:
    """The cache-key part for the LLM: ``none`` when no LLM is configured (the app's default)."""
    if config is None or not config.is_configured:
        return "none"
    return config.fingerprint()

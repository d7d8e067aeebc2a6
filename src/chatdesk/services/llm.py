"""The configured LLM, if any: one provider per server process, built on first use."""

from __future__ import annotations

import threading
from pathlib import Path

from chatdesk.config import Settings
from chatdesk.llm import LLMConfig, PromptConfig, Provider, build_provider, default_counter, fingerprint
from chatdesk.retrieval.embedding import ModelNotExported, tokenizer_file

_lock = threading.Lock()


def llm_config(settings: Settings) -> LLMConfig | None:
    """The LLM settings, or None when no LLM is configured (the embedded default)."""
    if not (settings.llm_base_url or settings.llm_azure_endpoint):
        return None
    return LLMConfig(
        provider=settings.llm_provider,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        model=settings.llm_model,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        breaker_failures=settings.llm_breaker_failures,
        breaker_cooldown=settings.llm_breaker_cooldown,
        azure_endpoint=settings.llm_azure_endpoint,
        azure_api_version=settings.llm_azure_api_version,
        azure_deployment=settings.llm_azure_deployment,
        prompt=PromptConfig(company_name=settings.company_name, tone=settings.llm_tone,
                            max_prompt_tokens=settings.llm_max_prompt_tokens,
                            history_tokens=settings.llm_history_tokens),
    )


class ProviderHolder:
    """Built lazily, so each forked server worker gets its own connections."""

    def __init__(self, settings: Settings) -> None:
        self._config = llm_config(settings)
        self._models = settings.models_path
        #: What the LLM settings change in answers (part of the reply cache key).
        self.fingerprint = fingerprint(self._config)
        self._provider: Provider | None = None
        self._built = False

    @property
    def config(self) -> LLMConfig | None:
        return self._config

    def get(self) -> Provider | None:
        if not self._built:
            with _lock:
                if not self._built:
                    counter = default_counter(_tokenizer(self._models)) if self._config else None
                    self._provider = build_provider(self._config, counter=counter)
                    self._built = True
        return self._provider

    def close(self) -> None:
        if self._provider is not None:
            self._provider.close()


def _tokenizer(models_dir: Path) -> Path | None:
    """Prompts are measured with the embedding model's tokenizer, wherever this install keeps it."""
    try:
        return tokenizer_file(models_dir)
    except ModelNotExported:
        return None

"""Settings, the cache fingerprint, and building a provider by name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chatdesk.errors import ConfigError
from chatdesk.llm import LLMConfig, PromptConfig, adapters, build_provider, fingerprint, register, registry
from chatdesk.llm import config as llm_config_module
from chatdesk.llm.openai_provider import AzureOpenAIProvider, OpenAICompatibleProvider

CONFIGURED = LLMConfig(base_url="http://llm.internal:8000/v1", api_key="sk-1", model="llama-3.1-8b")


@pytest.mark.parametrize("config", [
    None,
    LLMConfig(),
    LLMConfig(api_key="sk-only-a-key"),
    LLMConfig(model="gpt-4o-mini", api_key="sk-1"),
    LLMConfig(base_url="http://llm.internal:8000/v1"),
    LLMConfig(azure_endpoint="https://acme.openai.azure.com"),  # no deployment
], ids=["none", "empty", "key-only", "no-base-url", "no-model", "azure-no-deployment"])
def test_without_a_base_url_and_model_there_is_no_provider(config: LLMConfig | None) -> None:
    assert build_provider(config) is None
    assert fingerprint(config) == "none"


def test_a_configured_provider_is_built_by_name() -> None:
    provider = build_provider(CONFIGURED)
    assert isinstance(provider, OpenAICompatibleProvider)
    with provider:
        assert provider.name == "openai" and provider.model == "llama-3.1-8b"


def test_an_azure_endpoint_selects_the_azure_adapter() -> None:
    config = LLMConfig(azure_endpoint="https://acme.openai.azure.com", azure_deployment="gpt4o",
                       azure_api_version="2024-10-21", api_key="k")
    assert config.provider_name == "azure" and config.is_configured
    provider = build_provider(config)
    assert isinstance(provider, AzureOpenAIProvider)
    with provider:
        assert provider.model == "gpt4o"


def test_azure_without_an_api_version_says_what_to_set() -> None:
    config = LLMConfig(azure_endpoint="https://acme.openai.azure.com", azure_deployment="gpt4o", api_key="k")
    with pytest.raises(ConfigError, match="CHATDESK_LLM_AZURE_API_VERSION"):
        build_provider(config)


def test_an_unknown_provider_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="choose one of: azure, openai"):
        build_provider(replace(CONFIGURED, provider="anthropic"))


def test_an_adapter_whose_package_is_missing_is_disabled_with_a_clear_message(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_ADAPTERS", dict(registry._ADAPTERS))

    @register("local-gguf", requires=("surely_not_installed_pkg",))
    class LocalModel(OpenAICompatibleProvider):
        name = "local-gguf"

    listed = adapters()
    assert listed["openai"] is None and listed["azure"] is None
    assert listed["local-gguf"] == ("the 'local-gguf' LLM adapter needs the surely_not_installed_pkg "
                                    "package(s): pip install surely_not_installed_pkg")
    with pytest.raises(ConfigError, match="pip install surely_not_installed_pkg"):
        build_provider(replace(CONFIGURED, provider="local-gguf"))


@pytest.mark.parametrize("bad", [{"timeout": 0}, {"max_retries": -1}, {"breaker_failures": 0},
                                 {"temperature": 3.0}, {"max_tokens": 0}, {"backoff_base": -1}])
def test_impossible_settings_are_refused_with_a_config_error(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="Invalid LLM settings"):
        LLMConfig(**bad)


def test_the_api_key_is_not_shown_in_reprs() -> None:
    assert "sk-1" not in repr(CONFIGURED)


def test_the_fingerprint_is_stable_and_ignores_what_does_not_change_answers() -> None:
    same = LLMConfig(base_url="http://llm.internal:8000/v1/", api_key="sk-other", model="llama-3.1-8b",
                     timeout=5, max_retries=0, breaker_failures=9, breaker_cooldown=1, stream_usage=False)
    assert CONFIGURED.fingerprint() == CONFIGURED.fingerprint() == same.fingerprint()
    assert CONFIGURED.fingerprint().startswith("openai:") and len(CONFIGURED.fingerprint()) == 23
    assert fingerprint(CONFIGURED) == CONFIGURED.fingerprint()


@pytest.mark.parametrize("change", [
    {"model": "llama-3.1-70b"}, {"base_url": "http://other:8000/v1"}, {"temperature": 0.7},
    {"max_tokens": 800}, {"prompt": PromptConfig(company_name="Other Co")},
    {"prompt": PromptConfig(tone="formal")}, {"prompt": PromptConfig(max_prompt_tokens=1000)},
])
def test_the_fingerprint_changes_with_what_changes_answers(change: dict[str, object]) -> None:
    assert replace(CONFIGURED, **change).fingerprint() != CONFIGURED.fingerprint()


def test_a_new_system_prompt_version_changes_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    before = CONFIGURED.fingerprint()
    monkeypatch.setattr(llm_config_module, "SYSTEM_PROMPT_VERSION", "2")
    assert CONFIGURED.fingerprint() != before

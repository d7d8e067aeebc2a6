"""Adapters on the official ``openai`` SDK: any OpenAI-compatible endpoint, and Azure OpenAI.

The SDK's own retries are switched off (``max_retries=0``): the base class retries, so back-off,
the circuit breaker and failure counts see every attempt. ``openai`` is imported lazily, so
without it only these adapters are unavailable (see the registry).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from chatdesk.errors import ConfigError
from chatdesk.llm.base import Provider
from chatdesk.llm.config import AZURE, OPENAI, LLMConfig
from chatdesk.llm.errors import (
    LLMAuthError,
    LLMBadRequest,
    LLMConnectionError,
    LLMError,
    LLMMalformedResponse,
    LLMRateLimited,
    LLMServerError,
    LLMTimeout,
)
from chatdesk.llm.registry import register
from chatdesk.llm.types import CallOptions, ChatMessage, RawCompletion, StreamChunk

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionMessageParam

#: Sent when no key is configured: local servers (Ollama, vLLM, llama.cpp) ignore it, and the
#: SDK refuses to start without some key.
NO_KEY = "no-key-configured"


@register(OPENAI, requires=("openai",))
class OpenAICompatibleProvider(Provider):
    """Chat completions on any OpenAI-compatible ``base_url`` (``.../v1``)."""

    name = OPENAI

    def __init__(self, config: LLMConfig, *, client: openai.OpenAI | None = None,
                 **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._client = client if client is not None else self._make_client()

    def _make_client(self) -> openai.OpenAI:
        import openai

        if not self.config.base_url:
            raise ConfigError("The OpenAI-compatible LLM needs a base URL: set CHATDESK_LLM_BASE_URL "
                              "(for OpenAI itself, https://api.openai.com/v1).")
        return openai.OpenAI(base_url=self.config.base_url, api_key=self.config.api_key or NO_KEY,
                             timeout=self._timeout(), max_retries=0)

    def _timeout(self) -> Any:
        import openai

        return openai.Timeout(self.config.timeout,
                              connect=min(self.config.connect_timeout, self.config.timeout))

    @property
    def model(self) -> str:
        if not self.config.model:
            raise ConfigError("No LLM model is set: set CHATDESK_LLM_MODEL.")
        return self.config.model

    def _complete_once(self, messages: Sequence[ChatMessage], options: CallOptions) -> RawCompletion:
        with _translated_errors():
            response = self._client.chat.completions.create(
                model=self.model, messages=_sdk_messages(messages),
                temperature=options.temperature, max_tokens=options.max_tokens, stream=False,
                timeout=_attempt_timeout(options))
        with _read_guard():
            return _read_completion(response)

    def _stream_once(self, messages: Sequence[ChatMessage],
                     options: CallOptions) -> Generator[StreamChunk, None, None]:
        import openai

        with _translated_errors():
            stream = self._client.chat.completions.create(
                model=self.model, messages=_sdk_messages(messages),
                temperature=options.temperature, max_tokens=options.max_tokens, stream=True,
                stream_options={"include_usage": True} if self.config.stream_usage else openai.omit,
                timeout=_attempt_timeout(options))
        try:
            chunks: Iterator[Any] = iter(stream)
            while True:
                with _translated_errors():
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                with _read_guard():
                    piece = _read_chunk(chunk)
                yield piece
        finally:
            stream.close()

    def list_models(self) -> list[str]:
        with _translated_errors():
            page = self._client.models.list()
            with _read_guard():
                return [model.id for model in page.data]

    def close(self) -> None:
        self._client.close()


def _attempt_timeout(options: CallOptions) -> Any:
    import openai

    return openai.NOT_GIVEN if options.timeout is None else options.timeout


@register(AZURE, requires=("openai",))
class AzureOpenAIProvider(OpenAICompatibleProvider):
    """Azure OpenAI: an endpoint, an API version and a deployment (which names the model)."""

    name = AZURE

    def _make_client(self) -> openai.OpenAI:
        import openai

        config = self.config
        missing = [name for name, value in (("CHATDESK_LLM_AZURE_ENDPOINT", config.azure_endpoint),
                                            ("CHATDESK_LLM_AZURE_API_VERSION", config.azure_api_version),
                                            ("CHATDESK_LLM_AZURE_DEPLOYMENT", config.deployment),
                                            ("CHATDESK_LLM_API_KEY", config.api_key)) if not value]
        if missing:
            raise ConfigError("Azure OpenAI needs " + ", ".join(missing) + " to be set.")
        return openai.AzureOpenAI(azure_endpoint=config.azure_endpoint or "",
                                  azure_deployment=config.deployment,
                                  api_version=config.azure_api_version, api_key=config.api_key,
                                  timeout=self._timeout(), max_retries=0)

    @property
    def model(self) -> str:
        if not self.config.deployment:
            raise ConfigError("No Azure deployment is set: set CHATDESK_LLM_AZURE_DEPLOYMENT.")
        return self.config.deployment


def _sdk_messages(messages: Sequence[ChatMessage]) -> list[ChatCompletionMessageParam]:
    # Our ChatMessage is one of the shapes the SDK's union of message types accepts.
    return cast("list[ChatCompletionMessageParam]", list(messages))


# -- reading the SDK's answers -------------------------------------------------------------------

def _read_completion(response: Any) -> RawCompletion:
    """A ``ChatCompletion`` the SDK built without validation: check every part we rely on."""
    if isinstance(response, str):
        raise LLMMalformedResponse("The server's answer is not JSON: " + response[:200])
    choices = getattr(response, "choices", None)
    if not choices:
        raise LLMMalformedResponse("The completion has no choices.")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if content is not None and not isinstance(content, str):
        raise LLMMalformedResponse("The completion's content is not text.")
    return RawCompletion(text=content, model=getattr(response, "model", None),
                         finish_reason=getattr(choices[0], "finish_reason", None),
                         usage=_read_usage(getattr(response, "usage", None)))


def _read_chunk(chunk: Any) -> StreamChunk:
    if isinstance(chunk, str):
        raise LLMMalformedResponse("A stream event is not JSON: " + chunk[:200])
    choices = getattr(chunk, "choices", None) or []
    text = ""
    finish_reason = None
    if choices:
        delta = getattr(choices[0], "delta", None)
        text = getattr(delta, "content", None) or ""
        if not isinstance(text, str):
            raise LLMMalformedResponse("A stream delta's content is not text.")
        finish_reason = getattr(choices[0], "finish_reason", None)
    return StreamChunk(text=text, model=getattr(chunk, "model", None), finish_reason=finish_reason,
                       usage=_read_usage(getattr(chunk, "usage", None)))


def _read_usage(usage: Any) -> tuple[int, int] | None:
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if isinstance(prompt, int) and isinstance(completion, int):
        return prompt, completion
    return None


@contextlib.contextmanager
def _read_guard() -> Iterator[None]:
    """A response of an unexpected shape surfaces as attribute or type errors while we read it."""
    try:
        yield
    except LLMError:
        raise
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as error:
        raise LLMMalformedResponse(f"Unexpected completion shape: {error}") from error


@contextlib.contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn the SDK's exceptions (and JSON errors it lets through) into :class:`LLMError`."""
    import openai

    try:
        yield
    except openai.APITimeoutError as error:
        raise LLMTimeout("The language model did not answer in time.") from error
    except openai.APIConnectionError as error:
        cause = error.__cause__ or error.__context__
        raise LLMConnectionError(f"Could not talk to the language model: {cause or error}") from error
    except openai.APIStatusError as error:
        raise _status_error(error) from error
    except openai.APIResponseValidationError as error:
        raise LLMMalformedResponse(f"Unexpected answer from the language model: {error}") from error
    except openai.APIError as error:
        # An error event inside a stream: the server failed after it started answering.
        raise LLMServerError(f"The language model reported an error: {error.message}") from error
    except json.JSONDecodeError as error:
        raise LLMMalformedResponse(f"The language model's answer is not valid JSON: {error}") from error
    except openai.OpenAIError as error:
        raise LLMMalformedResponse(f"Unexpected answer from the language model: {error}") from error


def _status_error(error: Any) -> LLMError:
    status: int = error.status_code
    detail = f"The language model endpoint answered {status}: {_error_message(error)}"
    if status == 429:
        return LLMRateLimited(detail, status_code=status, retry_after=_retry_after(error.response))
    if status in (401, 403):
        return LLMAuthError(detail + " (check CHATDESK_LLM_API_KEY)", status_code=status)
    if status == 408:
        return LLMTimeout(detail, status_code=status)
    if status >= 500:
        return LLMServerError(detail, status_code=status, retry_after=_retry_after(error.response))
    return LLMBadRequest(detail, status_code=status)


def _error_message(error: Any) -> str:
    body = error.body  # the SDK hands over OpenAI's ``error`` object when the body had one
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) and message else str(error.message)


def _retry_after(response: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (HTTP dates are not worth parsing here)."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None

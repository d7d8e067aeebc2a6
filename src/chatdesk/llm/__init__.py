"""LLM answers: provider adapters behind one interface, grounded prompts, citations.

Pure library (no Flask, no database). Typical use::

    provider = build_provider(config)            # None when no LLM is configured
    prompt = build_prompt(question, passages, history, config=config.prompt)
    completion = provider.complete(prompt.messages)
    answer = ground(completion.text, prompt.passages)   # raises UngroundedAnswer

Every failure is an :class:`LLMError` with a ``kind``; see ``docs/llm.md``.
"""

from chatdesk.llm.base import CompletionStream, Provider
from chatdesk.llm.breaker import BreakerState, CircuitBreaker
from chatdesk.llm.citations import (
    GroundedAnswer,
    MarkerStripper,
    check_citations,
    cited_numbers,
    ground,
    strip_markers,
)
from chatdesk.llm.config import SYSTEM_PROMPT_VERSION, LLMConfig, PromptConfig, fingerprint
from chatdesk.llm.errors import (
    CircuitOpen,
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
    UngroundedAnswer,
)
from chatdesk.llm.prompts import GroundedPrompt, HistoryTurn, Passage, build_prompt
from chatdesk.llm.registry import adapters, build_provider, register
from chatdesk.llm.retry import RetryPolicy
from chatdesk.llm.tokens import CharacterCounter, TokenCounter, WordPieceCounter, default_counter
from chatdesk.llm.types import ChatMessage, Completion, StreamDone, StreamEvent, TextDelta

__all__ = [
    "SYSTEM_PROMPT_VERSION",
    "BreakerState",
    "CharacterCounter",
    "ChatMessage",
    "CircuitBreaker",
    "CircuitOpen",
    "Completion",
    "CompletionStream",
    "FailureKind",
    "GroundedAnswer",
    "GroundedPrompt",
    "HistoryTurn",
    "LLMAuthError",
    "LLMBadRequest",
    "LLMConfig",
    "LLMConnectionError",
    "LLMEmptyResponse",
    "LLMError",
    "LLMMalformedResponse",
    "LLMRateLimited",
    "LLMServerError",
    "LLMTimeout",
    "MarkerStripper",
    "Passage",
    "PromptConfig",
    "Provider",
    "RetryPolicy",
    "StreamDone",
    "StreamEvent",
    "TextDelta",
    "TokenCounter",
    "UngroundedAnswer",
    "WordPieceCounter",
    "adapters",
    "build_prompt",
    "build_provider",
    "check_citations",
    "cited_numbers",
    "default_counter",
    "fingerprint",
    "ground",
    "register",
    "strip_markers",
]

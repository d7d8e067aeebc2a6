"""When to retry a failed LLM call, and how long to wait first (exponential backoff with jitter).

Jitter spreads the retries of many workers that failed at the same moment, so they do not hit a
recovering endpoint together. A server's ``Retry-After`` is honoured, up to ``max_delay``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from chatdesk.llm.errors import LLMError


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: Returns a float in [0, 1); replaceable so tests can pin the jitter.
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def should_retry(self, error: LLMError, retries_done: int) -> bool:
        return error.retryable and retries_done < self.max_retries

    def delay(self, retries_done: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retries_done + 1``.

        ``base * 2**n`` capped at ``max_delay``, then scaled by a random factor in [0.5, 1)
        ("equal jitter": never less than half the backoff, so retries stay spaced out).
        """
        backoff = min(self.max_delay, self.base_delay * (2 ** retries_done))
        wait = backoff * (0.5 + self.random() / 2)
        if retry_after is not None and retry_after > wait:
            wait = retry_after
        return min(wait, self.max_delay)

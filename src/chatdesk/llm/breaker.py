"""A circuit breaker: stop calling an endpoint that keeps failing, and probe it now and then.

Closed: calls go through; ``failure_threshold`` consecutive failed calls open it. Open: calls are
rejected at once (no request is made) until ``cooldown`` seconds have passed. Half-open: one
probe call goes through (others are still rejected); its success closes the circuit, its
failure opens it for another cool-down.

Thread-safe with a plain ``threading.Lock`` held only for a few assignments, never across I/O,
so it also behaves under gevent's monkey-patching.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from chatdesk.llm.errors import CircuitOpen


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        #: How many times the circuit has opened (for metrics).
        self.times_opened = 0

    @property
    def state(self) -> BreakerState:
        """The state as a caller would find it now (an expired cool-down reads as half-open)."""
        with self._lock:
            if self._state is BreakerState.OPEN and self._cooled_down():
                return BreakerState.HALF_OPEN
            return self._state

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    def acquire(self) -> bool:
        """Ask to make a call. Returns True when the call is the half-open probe.

        Raises :class:`CircuitOpen` when the call must not be made. A caller that got True must
        report the outcome (``record_success``/``record_failure``) or give it back (``release``).
        """
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return False
            if self._state is BreakerState.OPEN and self._cooled_down():
                self._state = BreakerState.HALF_OPEN
            if self._state is BreakerState.HALF_OPEN and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            wait = max(0.0, self._opened_at + self.cooldown - self._clock())
        raise CircuitOpen(
            f"The language model endpoint failed {self.failure_threshold} times in a row; "
            f"calls are paused (next probe in {wait:.1f} s).", retry_after=wait)

    def record_success(self) -> None:
        """The endpoint answered: close the circuit and forget earlier failures."""
        with self._lock:
            self._failures = 0
            self._probe_in_flight = False
            self._state = BreakerState.CLOSED

    def record_failure(self) -> None:
        """A call failed in a way that says the endpoint is unhealthy."""
        with self._lock:
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                if self._state is not BreakerState.OPEN:
                    self.times_opened += 1
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()
            self._probe_in_flight = False

    def release(self) -> None:
        """Give back a probe whose outcome says nothing about the endpoint (the caller gave up)."""
        with self._lock:
            self._probe_in_flight = False

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.cooldown

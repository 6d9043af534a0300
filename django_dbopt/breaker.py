"""A small thread-safe circuit breaker, shared by the router, the cache and the pool.

``closed`` (calls go through) -> after ``failures`` consecutive failures -> ``open``
(calls refused at once) -> after ``reset_after`` seconds -> ``half_open`` (one trial call
is let through) -> a success closes it, a failure opens it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        failures: int = 3,
        reset_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        self.failures = failures
        self.reset_after = reset_after
        self._clock = clock
        self._lock = threading.Lock()
        self._failed = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> State:
        with self._lock:
            return self._state()

    def _state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_after:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """May a call go through now? In ``half_open`` only one caller gets ``True``."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._failed = 0
            self._opened_at = None
            self._trial_running = False

    def failure(self) -> None:
        with self._lock:
            self._trial_running = False
            self._failed += 1
            if self._opened_at is not None or self._failed >= self.failures:
                self._opened_at = self._clock()

    def reset(self) -> None:
        self.success()

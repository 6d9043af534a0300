"""A small thread-safe circuit breaker, shared by the router, the cache and the pool.

``closed`` (calls go through) -> after ``failures`` consecutive failures -> ``open``
(calls refused at once) -> after ``reset_after`` seconds -> ``half_open`` (one trial call
is let through) -> a success closes it, a failure opens it again.

Callers that arrive while the half-open trial is in flight are refused by ``allow()``;
``acquire(wait)`` lets them wait for the trial's outcome instead (up to ``wait``
seconds): they go ahead if it succeeded and are refused at once if it failed. A trial
whose caller never reports back (it died) is presumed lost after ``trial_timeout``
seconds, and the next caller becomes the trial.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]
#: ``acquire()``: go ahead (closed), you are the half-open trial, or refused
Admission = Literal["closed", "trial", "refused"]


class CircuitBreaker:
    def __init__(
        self,
        failures: int = 3,
        reset_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        trial_timeout: float = 10.0,
    ) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        self.failures = failures
        self.reset_after = reset_after
        self.trial_timeout = trial_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._trial_done = threading.Condition(self._lock)
        self._failed = 0
        self._opened_at: float | None = None
        self._trial_started: float | None = None
        #: bumped by every failure, so that waiters see a failed trial
        self._failure_count = 0

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

    def _trial_running(self) -> bool:
        started = self._trial_started
        return started is not None and self._clock() - started < self.trial_timeout

    def allow(self) -> bool:
        """May a call go through now? In ``half_open`` only one caller gets ``True``."""
        return self.acquire() != "refused"

    def acquire(self, wait: float = 0.0) -> Admission:
        """Like ``allow()``, but a caller arriving while the half-open trial is in flight
        waits up to ``wait`` seconds for its outcome: ``"closed"`` if it succeeded,
        ``"refused"`` if it failed (or did not end in time). ``"trial"``: this caller is
        the trial and must report ``success()`` or ``failure()``."""
        deadline = self._clock() + wait
        with self._lock:
            while True:
                state = self._state()
                if state == "closed":
                    return "closed"
                if state == "open":
                    return "refused"
                if not self._trial_running():
                    self._trial_started = self._clock()
                    return "trial"
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return "refused"
                failures_before = self._failure_count
                self._trial_done.wait(remaining)
                if self._failure_count != failures_before:
                    return "refused"  # the trial failed: fail fast, do not queue for another

    def success(self) -> None:
        with self._lock:
            self._failed = 0
            self._opened_at = None
            self._trial_started = None
            self._trial_done.notify_all()

    def failure(self) -> None:
        with self._lock:
            self._trial_started = None
            self._failure_count += 1
            self._failed += 1
            if self._opened_at is not None or self._failed >= self.failures:
                self._opened_at = self._clock()
            self._trial_done.notify_all()

    def trip(self) -> None:
        """Open now, whatever the count (a failure that leaves no doubt: a hung server)."""
        with self._lock:
            self._trial_started = None
            self._failure_count += 1
            self._failed = max(self._failed + 1, self.failures)
            self._opened_at = self._clock()
            self._trial_done.notify_all()

    def reset(self) -> None:
        self.success()

"""Waiting on a condition, never on the clock: the suite's one polling helper.

A test that needs something to have happened (a thread to reach a point, a replica to
replay, a lease to lapse) polls for it with a generous deadline, so it passes as soon as
the condition holds on an idle machine and still passes when CPU-bound processes slow it.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 30,
    interval: float = 0.02,
    *,
    what: str = "the condition",
) -> None:
    """Return once ``predicate()`` is true; ``AssertionError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)

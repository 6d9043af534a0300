"""SIGTERM and SIGINT during ``dbopt_migrate``: stop cleanly and record the run.

The first signal raises ``MigrationInterrupted`` in the main thread. It is a
``KeyboardInterrupt``, so psycopg cancels the statement running on the server (a
``CREATE INDEX CONCURRENTLY`` does not finish behind the run's back), Django rolls an
atomic migration back, and the runner records the step and the run as ``interrupted``
before it exits. Later signals are ignored until the run has recorded itself.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class MigrationInterrupted(KeyboardInterrupt):
    """The run got SIGTERM or SIGINT."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name


@contextmanager
def interruptible() -> Iterator[None]:
    """Turns SIGTERM / SIGINT into ``MigrationInterrupted`` meanwhile (main thread only:
    Python delivers signals there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if fired:
            return
        fired.append(signum)
        raise MigrationInterrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def describe(error: KeyboardInterrupt) -> str:
    return getattr(error, "signal_name", "SIGINT")

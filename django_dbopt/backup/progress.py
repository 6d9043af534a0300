"""A one-line progress display for terminals (commands pass it only when stderr is one)."""

from __future__ import annotations

import time
from typing import TextIO


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024:
            return f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


class ProgressLine:
    """Call with the bytes done so far; redraws at most 10 times a second."""

    def __init__(self, stream: TextIO, label: str, total: int | None = None) -> None:
        self.stream, self.label, self.total = stream, label, total
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-6)
        share = f" {100 * done / self.total:5.1f}%" if self.total else ""
        self.stream.write(
            f"\r{self.label}:{share} {human_bytes(done)} ({human_bytes(rate)}/s)\033[K"
        )
        self.stream.flush()

    def done(self) -> None:
        if self.last:
            self.stream.write("\n")
            self.stream.flush()

"""L2 stores of computed results (ORM results) that ride along the next round trip.

A miss already paid for the database; making it also wait for a Redis ``SET`` would add
a round trip to the miss path, and a background thread doing it would fight the request
thread for the GIL. So a store is queued here and sent as extra arguments of this
process's next generation fetch script (which every cached read runs, and which stores
them). If no fetch comes for ``FLUSH_AFTER_S``, a sleeping daemon thread sends what is
queued. Storing late can never make an entry wrong: it is keyed by the generations read
before the query ran.
When the queue is full or Redis is down, stores are dropped (counted as L2 errors).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from django_dbopt.cache.l2 import L2Down

if TYPE_CHECKING:
    from django_dbopt.cache.state import CacheState

MAX_QUEUED = 1000
FLUSH_AFTER_S = 0.05

Item = tuple[str, bytes, int]


class Outbox:
    def __init__(self, st: CacheState) -> None:
        self.st = st
        self._lock = threading.Lock()
        self._items: list[Item] = []
        self._since = 0.0
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: str, blob: bytes, ttl_s: int) -> None:
        with self._lock:
            if len(self._items) >= MAX_QUEUED:
                self.st.stats.add("l2.errors")
                return
            if not self._items:
                self._since = time.monotonic()
            self._items.append((key, blob, ttl_s))
        if self._thread is None:
            self._start()

    def take(self) -> list[Item]:
        with self._lock:
            items, self._items = self._items, []
            return items

    def add_to(self, pipe: Any, items: list[Item]) -> None:
        for key, blob, ttl_s in items:
            pipe.set(key, blob, ex=ttl_s)

    def sent(self, items: list[Item], *, ok: bool) -> None:
        if not items:
            return
        if ok:
            self.st.stats.add("l2.sets", len(items))
            self.st.stats.add("l2.bytes_written", sum(len(b) for _, b, _ in items))
        else:
            self.st.stats.add("l2.errors", len(items))

    def flush(self) -> None:
        """Send what is queued now (the idle thread; tests; warming)."""
        items = self.take()
        if not items:
            return

        def write(client: Any) -> None:
            pipe = client.pipeline(transaction=False)
            self.add_to(pipe, items)
            pipe.execute()

        try:
            self.st.tier.run(write)
        except L2Down:
            self.sent(items, ok=False)
            return
        self.sent(items, ok=True)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._idle_flusher, name=f"dbopt-cache-outbox[{self.st.ns}]", daemon=True
            )
            self._thread.start()

    def _idle_flusher(self) -> None:
        while True:
            time.sleep(FLUSH_AFTER_S)
            if self._items and time.monotonic() - self._since >= FLUSH_AFTER_S:
                self.flush()

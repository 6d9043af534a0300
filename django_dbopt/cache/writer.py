"""Background L2 stores for computed results (ORM results, decorated functions).

A miss already paid for the database; making it also wait for a Redis ``SET`` round trip
would slow the miss path for nothing: the entry is keyed by the generations read before
the query, so storing it a little later can never make it wrong, only a little later
useful. One daemon thread per cache state drains a bounded queue and pipelines the
stores; when the queue is full or Redis is down, stores are dropped (counted as errors).
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING

from django_dbopt.cache.l2 import L2Down

if TYPE_CHECKING:
    from django_dbopt.cache.state import CacheState

MAX_QUEUED = 10_000
BATCH = 200


class Writer(threading.Thread):
    def __init__(self, st: CacheState) -> None:
        super().__init__(name=f"dbopt-cache-writer[{st.ns}]", daemon=True)
        self.st = st
        self.queue: queue.Queue[tuple[str, bytes, int]] = queue.Queue(MAX_QUEUED)

    def put(self, key: str, blob: bytes, ttl_s: int) -> None:
        try:
            self.queue.put_nowait((key, blob, ttl_s))
        except queue.Full:
            self.st.stats.add("l2.errors")

    def run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._store(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    def _store(self, batch: list[tuple[str, bytes, int]]) -> None:
        def write(client: object) -> None:
            pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
            for key, blob, ttl_s in batch:
                pipe.set(key, blob, ex=ttl_s)
            pipe.execute()

        try:
            self.st.tier.run(write)
        except L2Down:
            self.st.stats.add("l2.errors", len(batch))
            return
        self.st.stats.add("l2.sets", len(batch))
        self.st.stats.add("l2.bytes_written", sum(len(b) for _, b, _ in batch))

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until queued stores were sent (tests, warming)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.002)

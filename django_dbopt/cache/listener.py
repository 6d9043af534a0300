"""The per-process pub/sub listener that keeps L1 coherent with other processes.

Started lazily by the first cache call that wants L1 (never in ``AppConfig.ready``), as a
daemon thread. Until it has confirmed its subscription, and whenever it loses it, L1 is
not used and is cleared: a message missed while disconnected could otherwise leave a
stale entry behind. It reconnects by itself with a short backoff. It also flushes this
process's stats deltas to Redis every few seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django_dbopt.cache.counters import FLUSH_EVERY_S
from django_dbopt.cache.l2 import REDIS_ERRORS, L2Down, RedisTier

logger = logging.getLogger("django_dbopt.cache")

POLL_S = 0.5
_ERRORS: tuple[type[BaseException], ...] = (*REDIS_ERRORS, L2Down)
BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0)


class Listener(threading.Thread):
    def __init__(
        self,
        tier: RedisTier,
        channel: str,
        on_message: Callable[[bytes], None],
        on_subscribed: Callable[[], None],
        on_lost: Callable[[], None],
        on_tick: Callable[[], None],
    ) -> None:
        super().__init__(name=f"dbopt-cache-listener[{channel}]", daemon=True)
        self.tier = tier
        self.channel = channel
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._on_lost = on_lost
        self._on_tick = on_tick
        self._stop = threading.Event()
        self.subscribed = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except _ERRORS as e:
                if self.subscribed.is_set():
                    logger.warning("cache invalidation channel lost (%s); L1 cleared", e)
                self.subscribed.clear()
                self._on_lost()
                self._stop.wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                failures += 1

    def _listen(self) -> None:
        pubsub = self.tier.client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            next_tick = time.monotonic() + FLUSH_EVERY_S
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=POLL_S)
                if message is not None:
                    kind = message["type"]
                    if kind == "subscribe":
                        self._on_subscribed()
                        self.subscribed.set()
                    elif kind == "message":
                        self._on_message(message["data"])
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + FLUSH_EVERY_S
                    pubsub.ping()  # a dead connection shows up here, not silently
                    self._on_tick()
        finally:
            self.subscribed.clear()
            pubsub.close()

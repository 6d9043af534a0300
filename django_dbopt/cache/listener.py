"""The per-process pub/sub listener that keeps L1 coherent with other processes.

Started lazily by the first cache call that wants L1 (never in ``AppConfig.ready``), as a
daemon thread. It subscribes to the cache's invalidation channel and to this process's
private channel, applies every invalidation as it arrives and acknowledges the ones that
ask for it (a batch of acks costs one round trip), and renews this process's L1 lease
every ``renew_every_s`` (``leases.py``): the lease starts when the renewal's heartbeat
comes back on the private channel. Whenever the subscription is lost, L1 is cleared and
the lease dropped; it reconnects by itself with a short backoff. It also flushes this
process's stats deltas to Redis every few seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from django_dbopt.cache.counters import FLUSH_EVERY_S
from django_dbopt.cache.l2 import REDIS_ERRORS, L2Down, RedisTier

logger = logging.getLogger("django_dbopt.cache")

POLL_S = 0.5
#: messages applied before their acks are sent together
ACK_BATCH = 100
_ERRORS: tuple[type[BaseException], ...] = (*REDIS_ERRORS, L2Down)
BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0)


class Listener(threading.Thread):
    def __init__(
        self,
        tier: RedisTier,
        channel: str,
        private_channel: str,
        on_message: Callable[[bytes], bytes | None],
        on_heartbeat: Callable[[bytes], None],
        on_subscribed: Callable[[], None],
        on_lost: Callable[[], None],
        on_tick: Callable[[], None],
        renew: Callable[[], None],
        renew_every_s: float,
        send_acks: Callable[[Sequence[bytes]], None],
    ) -> None:
        super().__init__(name=f"dbopt-cache-listener[{channel}]", daemon=True)
        self.tier = tier
        self.channel = channel
        self.private_channel = private_channel
        self._on_message = on_message
        self._on_heartbeat = on_heartbeat
        self._on_subscribed = on_subscribed
        self._on_lost = on_lost
        self._on_tick = on_tick
        self._renew = renew
        self._renew_every_s = renew_every_s
        self._send_acks = send_acks
        self._stopping = threading.Event()
        self.subscribed = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                self._listen()
                failures = 0
            except _ERRORS as e:
                if self.subscribed.is_set():
                    logger.warning("cache invalidation channel lost (%s); L1 cleared", e)
                self.subscribed.clear()
                self._on_lost()
                self._stopping.wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                failures += 1

    def _received(self, message: dict[str, Any], private: bytes, acks: list[bytes]) -> None:
        """A heartbeat on our private channel, or an invalidation to apply (and ack)."""
        if message["channel"] == private:
            self._on_heartbeat(message["data"])
        else:
            ack = self._on_message(message["data"])
            if ack is not None:
                acks.append(ack)

    def _listen(self) -> None:
        pubsub = self.tier.client.pubsub()
        private = self.private_channel.encode()
        try:
            pubsub.subscribe(self.channel, self.private_channel)
            confirmed = 0
            next_tick = time.monotonic() + FLUSH_EVERY_S
            next_renewal = float("inf")
            while not self._stopping.is_set():
                wait = min(POLL_S, max(0.0, next_renewal - time.monotonic()))
                message = pubsub.get_message(timeout=wait)
                acks: list[bytes] = []
                while message is not None:
                    kind = message["type"]
                    if kind == "message":
                        self._received(message, private, acks)
                    elif kind == "subscribe":
                        if confirmed >= 2:  # redis-py reconnected and resubscribed by itself:
                            self.subscribed.clear()  # messages may have been missed
                            self._on_lost()
                            confirmed = 0
                        confirmed += 1
                        if confirmed == 2:  # both channels: nothing can be missed from now
                            self._on_subscribed()
                            self.subscribed.set()
                            next_renewal = time.monotonic()
                    if len(acks) >= ACK_BATCH:
                        break
                    message = pubsub.get_message(timeout=0)
                if acks:
                    self._send_acks(acks)
                now = time.monotonic()
                if now >= next_renewal:
                    next_renewal = now + self._renew_every_s
                    self._renew()
                if now >= next_tick:
                    next_tick = now + FLUSH_EVERY_S
                    pubsub.ping()  # a dead connection shows up here, not silently
                    self._on_tick()
        finally:
            self.subscribed.clear()
            pubsub.close()

"""What one ``TwoTierCache`` configuration shares across the threads of a process.

Django makes one cache *instance* per thread; L1, the breaker, the listener, the local
generation map and the stats must be per *process*, so instances look their state up in
``_states`` by configuration (as Django's ``LocMemCache`` does with its ``_caches``). After
``fork()`` the child resets its states in place (``os.register_at_fork``).

Invalidation messages on the channel (``<node> <kind> <payload>``):

- ``k``: payload is NUL-separated full keys: drop them from L1;
- ``g``: payload is NUL-separated generation keys that were bumped: forget their local
  values (L1 entries keyed by the old generations can no longer be addressed);
- ``c``: everything was cleared: clear L1 and the local generations.

A process ignores its own messages (it updated its L1 already). Every received message
and every loss of the subscription increments ``seq``; a value read from Redis is put in
L1 (or a generation in the local map) only if ``seq`` did not move during the read, so
an invalidation that overtakes a read cannot be undone by it.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.cache.codec import ValueCodec
from django_dbopt.cache.counters import Stats
from django_dbopt.cache.l1 import ByteLRU
from django_dbopt.cache.l2 import L2Down, RedisTier
from django_dbopt.cache.listener import Listener
from django_dbopt.cache.outbox import Outbox

logger = logging.getLogger("django_dbopt.cache")


@dataclass(frozen=True)
class Config:
    l2_alias: str
    namespace: str
    l1_max_bytes: int
    l1_timeout_s: float
    codec: str
    compress_min_bytes: int
    breaker_failures: int
    breaker_reset_s: float
    restart_quarantine_s: float = 3.0


class CacheState:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.node = uuid.uuid4().hex[:12].encode()
        self.ns = f"dbopt:{config.namespace}:"
        self.channel = f"{self.ns}inv"
        self.l1 = ByteLRU(config.l1_max_bytes, config.l1_timeout_s)
        self.codec = ValueCodec(config.codec, config.compress_min_bytes)
        self.stats = Stats()
        self.tier = RedisTier(
            config.l2_alias,
            CircuitBreaker(config.breaker_failures, config.breaker_reset_s),
            on_error=self._on_redis_error,
            on_refused=lambda: self.stats.add("l2.errors"),
        )
        self.seq = 0
        self._seq_lock = threading.Lock()
        self.local_gens: dict[str, bytes] = {}
        #: generation keys whose bump could not be written: ORM caching stays off until
        #: they are (see ``generations.flush_pending``)
        self.pending: set[str] = set()
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        #: stores waiting to ride along the next round trip (see ``outbox.py``)
        self.outbox = Outbox(self)

    # -- L1 usability ------------------------------------------------------------------
    @property
    def l1_on(self) -> bool:
        """L1 may be used: enabled, and the invalidation channel is subscribed."""
        if not self.l1.enabled:
            return False
        listener = self._listener
        if listener is None or not listener.is_alive():
            self.start_listener()
            return False
        return listener.subscribed.is_set()

    def start_listener(self) -> None:
        with self._lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = Listener(
                self.tier,
                self.channel,
                on_message=self._on_message,
                on_subscribed=self._on_subscribed,
                on_lost=self._reset_local,
                on_tick=self.flush_stats,
            )
            self._listener.start()

    def wait_subscribed(self, timeout: float = 5.0) -> bool:
        """Start the listener if needed and wait for its subscription (tests, warming)."""
        self.start_listener()
        assert self._listener is not None
        return self._listener.subscribed.wait(timeout)

    def stop_listener(self) -> None:
        listener = self._listener
        if listener is not None:
            listener.stop()
            listener.join(timeout=2)
        self._listener = None

    def after_fork(self) -> None:
        """In a forked child: the parent's threads are gone and its locks may have been
        held by one of them, so start over in place (objects holding this state keep
        working). L1 stays off until the child's own listener has subscribed."""
        self._lock = threading.Lock()
        self._seq_lock = threading.Lock()
        self.l1 = ByteLRU(self.config.l1_max_bytes, self.config.l1_timeout_s)
        self.stats = Stats()
        self.local_gens = {}
        self.tier.after_fork()
        self.outbox = Outbox(self)
        self._listener = None
        self.seq += 1

    # -- invalidation ------------------------------------------------------------------
    def invalidated(self) -> None:
        """Something changed: a value being read from Redis right now must not be kept
        in L1 (nor a generation in the local map). Called for every received message,
        a lost subscription, and after this process's own writes and bumps."""
        with self._seq_lock:
            self.seq += 1

    def _reset_local(self) -> None:
        self.invalidated()
        self.l1.clear()
        self.local_gens.clear()

    def _on_redis_error(self) -> None:
        # While Redis fails, nobody can tell us about invalidations: drop what we hold.
        self.stats.add("l2.errors")
        self._reset_local()

    def _on_subscribed(self) -> None:
        """(Re)subscribed: start clean, and write the invalidations this process could not
        write while Redis was away, at once (the breaker may still be open)."""
        self._reset_local()
        if self.pending:
            from django_dbopt.cache import generations

            generations.bump(self, (), force=True)

    @property
    def up_key(self) -> str:
        return f"{self.ns}up"

    @property
    def quarantine_ms(self) -> int:
        return int(self.config.restart_quarantine_s * 1000)

    def _on_message(self, data: bytes) -> None:
        node, _, rest = data.partition(b" ")
        if node == self.node:
            return
        self.invalidated()
        kind, _, payload = rest.partition(b" ")
        if kind == b"k":
            self.l1.delete_many(k.decode() for k in payload.split(b"\0"))
        elif kind == b"g":
            for key in payload.split(b"\0"):
                self.local_gens.pop(key.decode(), None)
        else:  # "c" and anything unknown: be safe
            self.l1.clear()
            self.local_gens.clear()

    def message(self, kind: str, items: Sequence[str] = ()) -> bytes:
        return self.node + b" " + kind.encode() + b" " + "\0".join(items).encode()

    # -- stats -------------------------------------------------------------------------
    @property
    def stats_key(self) -> str:
        return f"{self.ns}stats"

    def flush_stats(self) -> None:
        deltas = self.stats.take_unflushed()
        if not deltas:
            return

        def write(client: object) -> None:
            pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
            for name, amount in deltas.items():
                pipe.hincrby(self.stats_key, name, amount)
            pipe.execute()

        try:
            self.tier.run(write)
        except L2Down:
            self.stats.give_back(deltas)


_states: dict[Config, CacheState] = {}
_states_lock = threading.Lock()


def state_for(config: Config) -> CacheState:
    state = _states.get(config)
    if state is None:
        with _states_lock:
            state = _states.get(config)
            if state is None:
                state = _states[config] = CacheState(config)
    return state


def all_states() -> list[CacheState]:
    return list(_states.values())


def _reset_after_fork() -> None:
    for state in _states.values():
        state.after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)

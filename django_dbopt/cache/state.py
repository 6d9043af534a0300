"""What one ``TwoTierCache`` configuration shares across the threads of a process.

Django makes one cache *instance* per thread; L1, the breaker, the listener, the local
generation map and the stats must be per *process*, so instances look their state up by
configuration (``shared.state_for``). After ``fork()`` the child resets its states in
place (``after_fork``).

The format of invalidation messages is in ``messages.py``. A process ignores its own
messages (it updated its L1 already). When a message carries an ack key, the listener
acknowledges it once applied, and L1 is trusted only under a lease: ``leases.py``
explains why that makes an L1 hit stale-free. Every received message and every loss of
the subscription increments ``seq``; a value read from Redis is put in L1 (or a
generation in the local map) only if ``seq`` did not move during the read, so an
invalidation that overtakes a read cannot be undone by it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.cache import generations
from django_dbopt.cache.counters import Stats
from django_dbopt.cache.l1 import ByteLRU
from django_dbopt.cache.l2 import REDIS_ERRORS, L2Down, LocalTier, RedisTier
from django_dbopt.cache.leases import NO_ACK, SAFETY, wait_out
from django_dbopt.cache.listener import Listener
from django_dbopt.cache.local_gens import LocalGenerations
from django_dbopt.cache.lookups import Lookups
from django_dbopt.cache.messages import frame, unframe
from django_dbopt.cache.options import TwoTierOptions
from django_dbopt.cache.outbox import Outbox

logger = logging.getLogger("django_dbopt.cache")


@dataclass(frozen=True)
class Config:
    """One ``TwoTierCache`` configuration: the states of equal ones are shared."""

    #: the cache's ``LOCATION``: its keys' namespace in Redis
    namespace: str
    options: TwoTierOptions

    @property
    def restart_quarantine_s(self) -> float:
        """Seconds (tests and benchmarks wait this long after starting a fresh Redis)."""
        return self.options.restart_quarantine


class CacheState(LocalGenerations):
    def __init__(self, config: Config) -> None:
        self.config = config
        self.ns = f"dbopt:{config.namespace}:"
        self.channel = f"{self.ns}inv"
        self.leases_key = f"{self.ns}leases"
        self._new_node()
        self.l1 = ByteLRU(config.options.l1_max_bytes, config.options.l1_timeout)
        self.codec = config.options.make_codec()
        self.stats = Stats()
        breaker = CircuitBreaker(config.options.breaker_failures, config.options.breaker_reset)
        #: L1-only mode: no L2, nothing shared with other processes (docs/cache.md)
        self.local = config.options.l2 is None
        #: L1 hits may use the local generation map without asking Redis
        self.trusted = config.options.ack_invalidations or self.local
        self.tier: RedisTier | LocalTier
        if config.options.l2 is None:
            self.tier = LocalTier(breaker)
        else:
            self.tier = RedisTier(
                config.options.l2,
                breaker,
                on_error=self._on_redis_error,
                on_refused=lambda: self.stats.add("l2.errors"),
                on_back=self._on_redis_back,
            )
        #: monotonic time until which this process may trust L1 (see leases.py); L1-only
        #: mode needs no lease: nothing outside the process can invalidate its L1
        self.lease_until = math.inf if self.local else 0.0
        self._renewal: tuple[bytes, float] | None = None
        self._renewals = 0
        #: monotonic time of the first Redis failure of the current outage (0: none)
        self.outage_since = 0.0
        self.seq = 0
        self._seq_lock = threading.Lock()
        #: generation key -> value, bounded (``MAX_LOCAL_GENS``): a key missing from it is
        #: read from Redis again (or, in L1-only mode, seeded above every value it had)
        self.local_gens: dict[str, str] = {}
        self._gens_lock = threading.Lock()
        #: generation keys whose bump could not be written: ORM caching stays off until
        #: they are (see ``generations.writable``)
        self.pending: set[str] = set()
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        #: stores waiting to ride along the next round trip (see ``outbox.py``)
        self.outbox = Outbox(self)
        #: per set of tables read: whether an L1 miss should look in L2 (lookups.py)
        self.lookups: dict[tuple[str, ...], Lookups] = {}

    # -- L1 usability ------------------------------------------------------------------
    def _new_node(self) -> None:
        self.node = uuid.uuid4().hex[:12].encode()
        self.private_channel = f"{self.ns}inv:{self.node.decode()}"

    @property
    def l1_on(self) -> bool:
        """L1 (and the local generation map) may be trusted: this process holds a lease
        (leases.py). Starts the listener that gets one, the first time L1 is wanted."""
        if not self.l1.enabled:
            return False
        if time.monotonic() < self.lease_until:
            return True
        listener = self._listener
        if listener is None or not listener.is_alive():
            self.start_listener()
        return False

    @property
    def lease_ms(self) -> int:
        return int(self.config.options.l1_lease * 1000)

    def renew_lease(self) -> None:
        """Ask Redis for a lease (the listener thread, every ``lease / 4``). It starts when
        the heartbeat comes back through the subscription (``heartbeat``). Raises L2Down."""
        self._renewals += 1
        token = self.node + b" " + str(self._renewals).encode()
        sent = time.monotonic()
        granted = self.tier.script(
            "renew",
            [self.leases_key, self.up_key],
            [self.private_channel, token, self.lease_ms, self.quarantine_ms],
            force=True,
        )
        self._renewal = (token, sent) if granted else None

    def heartbeat(self, token: bytes) -> None:
        """Our heartbeat came back: every message published before it has been applied."""
        renewal = self._renewal
        if renewal is not None and renewal[0] == token:
            self.lease_until = renewal[1] + self.config.options.l1_lease * SAFETY

    def release_lease(self) -> None:
        """Stop trusting L1 and tell writers not to wait for us (best effort, silent: it
        also runs at interpreter exit, when Redis may be gone)."""
        self.lease_until = 0.0
        self._renewal = None
        if not self.tier.available:
            return
        with contextlib.suppress(*REDIS_ERRORS):
            self.tier.client.zrem(self.leases_key, self.node)

    def start_listener(self) -> None:
        with self._lock:
            if self._listener is not None and self._listener.is_alive():
                return
            assert isinstance(self.tier, RedisTier)  # L1-only mode starts no listener
            self._listener = Listener(
                self.tier,
                self.channel,
                self.private_channel,
                on_message=self._on_message,
                on_heartbeat=self.heartbeat,
                on_subscribed=self._on_subscribed,
                on_lost=self._reset_local,
                on_tick=self.flush_stats,
                renew=self.renew_lease,
                renew_every_s=self.config.options.l1_lease / 4,
                send_acks=self.send_acks,
            )
            self._listener.start()
            LISTENING.add(self)

    def wait_l1(self, timeout: float = 5.0) -> bool:
        """Start the listener if needed and wait until L1 may be used: subscribed and
        holding a lease (tests, benchmarks, warming). False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.l1_on:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    @property
    def subscribed(self) -> bool:
        listener = self._listener
        return listener is not None and listener.subscribed.is_set()

    def stop_listener(self) -> None:
        listener = self._listener
        if listener is not None:
            listener.stop()
            listener.join(timeout=2)
        self._listener = None
        self.release_lease()

    def after_fork(self) -> None:
        """In a forked child: the parent's threads are gone and its locks may have been
        held by one of them, so start over in place (objects holding this state keep
        working). L1 stays off until the child's own listener has subscribed."""
        self._lock = threading.Lock()
        self._seq_lock = threading.Lock()
        self._new_node()  # the parent's id would make siblings ignore each other
        self._gens_lock = threading.Lock()
        self.lease_until = math.inf if self.local else 0.0
        self._renewal = None
        self.outage_since = 0.0
        self.l1 = ByteLRU(self.config.options.l1_max_bytes, self.config.options.l1_timeout)
        self.stats = Stats()
        self.local_gens = {}
        self.tier.after_fork()
        self.outbox = Outbox(self)
        self._listener = None
        self.seq += 1

    def lookups_for(self, tables: tuple[str, ...]) -> Lookups:
        """The measurements of reads of ``tables`` (kept across settings changes)."""
        found = self.lookups.get(tables)
        if found is None:
            if len(self.lookups) >= MAX_LOOKUPS:
                self.lookups.clear()
            found = self.lookups[tables] = Lookups()
        return found

    def forget_lookups(self) -> None:
        """L1 went cold: start looking in L2 again (plans hold these objects: in place)."""
        for lookups in list(self.lookups.values()):
            lookups.reset()

    # -- invalidation ------------------------------------------------------------------
    def invalidated(self) -> None:
        """Something changed: a value being read from Redis right now must not be kept
        in L1 (nor a generation in the local map). Called for every received message,
        a lost subscription, and after this process's own writes and bumps."""
        with self._seq_lock:
            self.seq += 1

    def _reset_local(self) -> None:
        if not self.local:
            self.lease_until = 0.0
        self._renewal = None
        self.invalidated()
        self.l1.clear()
        self.local_gens.clear()
        self.forget_lookups()

    def _on_redis_error(self) -> None:
        # While Redis fails, nobody can tell us about invalidations: drop what we hold.
        if not self.outage_since:
            self.outage_since = time.monotonic()
        self.stats.add("l2.errors")
        self._reset_local()

    def _on_redis_back(self) -> None:
        self.outage_since = 0.0

    def outage_wait(self) -> None:
        """An invalidation could not be written: wait until no other process can still
        hold an L1 lease from before the outage (none is renewed while Redis is down)."""
        if self.config.options.ack_invalidations and self.outage_since:
            wait_out(self.outage_since + self.config.options.l1_lease - time.monotonic())

    def _on_subscribed(self) -> None:
        """(Re)subscribed: start clean, and write the invalidations this process could not
        write while Redis was away, at once (the breaker may still be open)."""
        self._reset_local()
        if self.pending:
            # the writer waited out the leases when it failed: nobody to wait for now
            generations.bump(self, (), force=True, wait=False)

    @property
    def up_key(self) -> str:
        return f"{self.ns}up"

    @property
    def quarantine_ms(self) -> int:
        return int(self.config.options.restart_quarantine * 1000)

    def _on_message(self, data: bytes) -> bytes | None:
        """Apply an invalidation from another process; returns its ack key, if any."""
        node, _, rest = data.partition(b" ")
        if node == self.node:
            return None
        self.invalidated()
        kind, _, rest = rest.partition(b" ")
        ack, _, payload = rest.partition(b" ")
        try:
            if kind == b"K":
                self.l1.delete_many([k.decode() for k in unframe(payload)])
            elif kind == b"G":
                for item in unframe(payload):
                    key, _, value = item.decode().rpartition("=")
                    self.raise_generation(key, value)
            else:  # "c" and anything unknown (an older version's "k"/"g"): be safe
                self._forget_all()
        except ValueError:  # a malformed message: be safe
            self._forget_all()
        return None if ack == b"-" else ack

    def _forget_all(self) -> None:
        self.l1.clear()
        self.local_gens.clear()

    def send_acks(self, ack_keys: Sequence[bytes]) -> None:
        """Tell the writers their messages were applied (the listener, after a batch)."""

        def send(client: object) -> None:
            pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
            for key in ack_keys:
                pipe.rpush(key, self.node)
                pipe.pexpire(key, ACK_KEY_TTL_MS)
            pipe.execute()

        self.tier.run(send, force=True)

    def message(self, kind: str, items: Sequence[str] = (), ack: str = "-") -> bytes:
        return self.node + f" {kind} {ack} ".encode() + frame(items)

    def new_ack(self, *, wait: bool | None = None) -> str:
        """A fresh key for the acknowledgements of one invalidation, or ``NO_ACK`` when
        nobody is to be waited for (``wait`` defaults to ``ACK_INVALIDATIONS``)."""
        if wait is None:
            wait = self.config.options.ack_invalidations
        return f"{self.ns}ack:{uuid.uuid4().hex}" if wait else NO_ACK

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


#: sets of tables whose lookups are measured, at most (then they start over)
MAX_LOOKUPS = 5000


#: acknowledgement lists expire on their own (a writer waits far less than this)
ACK_KEY_TTL_MS = 10_000

#: states that started a listener: their leases are released when the interpreter exits
LISTENING: set[CacheState] = set()

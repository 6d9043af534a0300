"""Each process's view of its replicas: probed off the request path, read from memory.

A daemon thread, started lazily by the first routing decision (never at start-up), probes
every primary and replica of ``DBOPT['ROUTING']['REPLICAS']`` every ``PROBE_INTERVAL_S``
(+-20 % jitter), with ``PROBE_TIMEOUT_S`` as connect and statement timeout. After each
round it publishes an immutable ``ClusterTable`` per primary; the router reads only those.

A replica is in rotation when ``healthy``. It leaves on a failed probe (``down``; its
circuit breaker then spaces out probes), on lag past ``MAX_LAG_S`` / ``MAX_LAG_BYTES``
(``lagging``) or when it is no longer in recovery (``promoted``); it comes back after
``FAILBACK_PROBES`` consecutive good probes (``recovering`` until then). Every transition
is logged and sent as ``django_dbopt.signals.replica_state_changed``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.conf import RoutingSettings, get_config
from django_dbopt.routing.events import announce
from django_dbopt.routing.probe import ProbeFailed, Prober, ReplicaSample, check_aliases
from django_dbopt.routing.states import (
    ClusterTable,
    PrimaryHealth,
    ReplicaHealth,
    Transition,
    build_table,
    max_probe_age,
    replica_lag,
)
from django_dbopt.routing.tokens import Identity
from django_dbopt.routing.watchdog import watchdog

logger = logging.getLogger("django_dbopt.routing")


class HealthMonitor:
    def __init__(self) -> None:
        self._setup()

    def after_fork(self) -> None:
        """A forked child starts with no thread and no state (``routing.wiring``). (psycopg
        never closes a connection inherited from the parent: the parent's probes go on.)"""
        self._setup()

    def _setup(self) -> None:
        self._lock = threading.Lock()
        self._probing = threading.Lock()
        self._replicas: dict[str, ReplicaHealth] = {}
        self._primaries: dict[str, PrimaryHealth] = {}
        self._prober = Prober()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        #: primary alias -> what the router reads; replaced whole, never mutated
        self.tables: dict[str, ClusterTable] = {}
        #: primary alias -> its cluster identity, published with the tables
        self.identities: dict[str, Identity] = {}
        #: aliases removed from settings whose probe connection the probe thread closes
        self._retired: set[str] = set()
        self.running = False

    # -- lifecycle -----------------------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the probe thread if it is not running (cheap when it is)."""
        if not self.running:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self.running:
                return
            config = get_config().routing
            self._sync_members(config)
            self._publish(config)
            self._stop = threading.Event()  # a thread of its own: an old one may linger
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="dbopt-replica-probe", daemon=True
            )
            self.running = True
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self.running = False
        self._prober.close()
        watchdog.close()

    def reset(self) -> None:
        """Stop probing and forget every replica's state (tests; settings reloads)."""
        self.stop()
        with self._lock:
            self._replicas.clear()
            self._primaries.clear()
            self.tables = {}
            self.identities = {}

    def _run(self, stop: threading.Event) -> None:
        reported = ""
        while not stop.is_set():
            interval = 2.0
            try:
                config = get_config().routing
                interval = config.probe_interval_s
                self.probe_round(config)
            except ImproperlyConfigured as e:
                if str(e) != reported:  # once per problem, not every round
                    reported = str(e)
                    logger.error("replica probes paused: %s", e)
            except Exception:  # the probe thread must outlive any bug: log it and go on
                logger.exception("replica probe round failed")
            if stop.is_set():
                break
            self._wake.wait(interval * random.uniform(0.8, 1.2))  # noqa: S311
            self._wake.clear()

    # -- probing -------------------------------------------------------------------------
    def probe_round(self, config: RoutingSettings | None = None) -> None:
        """Probe every primary and replica once, now, and publish the new tables."""
        config = config or get_config().routing
        with self._probing:  # the probe thread and status(refresh=True) take turns
            self._probe_round(config)

    def _probe_round(self, config: RoutingSettings) -> None:
        check_aliases(config.replicas)
        with self._lock:
            transitions = self._sync_members(config)
            in_use = set(self._replicas) | set(self._primaries)
            retired, self._retired = self._retired - in_use, set()
            members = list(self._replicas.values())
            primaries = list(self._primaries.values())
        for alias in retired:
            self._prober.close(alias)
        timeout = config.probe_timeout_s
        # Primaries first (replica lag is measured against them), then every replica at
        # once: each phase takes at most PROBE_TIMEOUT_S, whatever a server does.
        answers = self._prober.run([p.alias for p in primaries], self._prober.primary, timeout)
        with self._lock:
            for primary in primaries:
                answer = answers[primary.alias]
                if isinstance(answer, ProbeFailed):
                    transitions += primary.failed(answer.error)
                else:
                    transitions += primary.observe(answer)
        # An open breaker skips the probe; half-open lets this one through as its trial.
        members = [r for r in members if r.breaker.allow()]
        samples = self._prober.run([r.alias for r in members], self._prober.replica, timeout)
        for replica in members:
            transitions += self._replica_answered(replica, samples[replica.alias], config)
        with self._lock:
            transitions += self._expire(config)
            self._publish(config)
        announce(transitions, sender=HealthMonitor)

    def _replica_answered(
        self, replica: ReplicaHealth, answer: ReplicaSample | ProbeFailed, config: RoutingSettings
    ) -> list[Transition]:
        if isinstance(answer, ProbeFailed):
            replica.breaker.failure()
            with self._lock:
                return replica.failed(answer.error)
        replica.breaker.success()
        watchdog.alive(replica.alias)
        with self._lock:  # request threads report failures on the same objects
            primary = self._primaries.get(replica.primary)
            lag_s, lag_bytes = replica_lag(primary, answer)
            return replica.observe(answer, primary, lag_s, lag_bytes, config)

    def _expire(self, config: RoutingSettings) -> list[Transition]:
        """Replicas whose last good probe is too old leave rotation (lock held)."""
        limit = max_probe_age(config)
        now = time.monotonic()
        transitions: list[Transition] = []
        for replica in self._replicas.values():
            if replica.state in ("healthy", "recovering", "lagging") and (
                replica.ok_at is None or now - replica.ok_at > limit
            ):
                transitions += replica.failed(f"no good probe for more than {limit:g}s")
        return transitions

    def expire(self, primary: str) -> ClusterTable | None:
        """The router found ``primary``'s table past its freshness: take replicas not
        probed successfully for too long out of rotation, and republish."""
        config = get_config().routing
        with self._lock:
            transitions = self._expire(config)
            self._publish(config)
        announce(transitions, sender=HealthMonitor)
        self._wake.set()
        return self.tables.get(primary)

    # -- membership ----------------------------------------------------------------------
    def _sync_members(self, config: RoutingSettings) -> list[Transition]:
        """Add and remove replicas to match settings (called with the lock held)."""
        transitions: list[Transition] = []
        wanted = {
            alias: (primary, float(weight))
            for primary, members in config.replicas.items()
            for alias, weight in members.items()
        }
        for alias in set(self._replicas) - set(wanted):
            gone = self._replicas.pop(alias)
            transitions.append(Transition(gone.primary, alias, gone.state, "removed", "settings"))
            self._retired.add(alias)
        for alias, (primary, weight) in wanted.items():
            current = self._replicas.get(alias)
            if (
                current is None
                or current.primary != primary
                or current.breaker.failures != config.breaker_failures
                or current.breaker.reset_after != config.breaker_reset_s
            ):
                self._replicas[alias] = ReplicaHealth(
                    alias,
                    primary,
                    weight,
                    CircuitBreaker(config.breaker_failures, config.breaker_reset_s),
                )
            else:
                current.weight = weight
        for alias in set(self._primaries) - set(config.replicas):
            del self._primaries[alias]
            self._retired.add(alias)
        for alias in config.replicas:
            self._primaries.setdefault(alias, PrimaryHealth(alias))
        return transitions

    def settings_changed(self) -> None:
        """Settings changed: follow membership at once, probe new replicas soon."""
        try:
            config = get_config().routing
        except ImproperlyConfigured:
            return
        with self._lock:
            transitions = self._sync_members(config)
            self._publish(config)
        announce(transitions, sender=HealthMonitor)
        self._wake.set()

    def _publish(self, config: RoutingSettings) -> None:
        self.identities = {
            alias: p.identity for alias, p in self._primaries.items() if p.identity is not None
        }
        self.tables = {
            primary: build_table(
                primary,
                [r for r in self._replicas.values() if r.primary == primary],
                config,
            )
            for primary in config.replicas
        }

    # -- reports from the request path ---------------------------------------------------
    def report_failure(self, alias: str, error: str, hung: bool = False) -> None:
        """A query or connection to ``alias`` failed: take it out of rotation now
        (``hung``: it stopped answering; its breaker opens at once)."""
        with self._lock:
            replica = self._replicas.get(alias)
            if replica is None:
                return
            if hung:
                replica.breaker.trip()
            else:
                replica.breaker.failure()
            transitions = replica.failed(error)
            self._publish(get_config().routing)
        announce(transitions, sender=HealthMonitor)

    def note_replayed(self, alias: str, lsn: int) -> None:
        """A direct check saw ``alias`` replayed up to ``lsn`` (kept until the next probe)."""
        with self._lock:
            replica = self._replicas.get(alias)
            if replica is not None and (replica.replay_lsn or 0) < lsn:
                replica.replay_lsn = lsn

    # -- reading -------------------------------------------------------------------------
    def snapshot(self) -> tuple[list[ReplicaHealth], list[PrimaryHealth]]:
        with self._lock:
            return (
                [r.copy() for r in self._replicas.values()],
                [p.copy() for p in self._primaries.values()],
            )


#: this process's monitor
monitor = HealthMonitor()


def on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver (``routing.wiring``)."""
    if setting in ("DBOPT", "DATABASES"):
        monitor.settings_changed()

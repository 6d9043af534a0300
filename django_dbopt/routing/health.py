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
import os
import random
import threading
from typing import Any

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.conf import RoutingSettings, get_config
from django_dbopt.routing.events import announce, first_line
from django_dbopt.routing.probe import Prober, ReplicaSample
from django_dbopt.routing.states import (
    ClusterTable,
    PrimaryHealth,
    ReplicaHealth,
    Transition,
    build_table,
    replica_lag,
)
from django_dbopt.routing.tokens import Identity

logger = logging.getLogger("django_dbopt.routing")


class HealthMonitor:
    def __init__(self) -> None:
        self._setup()
        # A forked child starts with no thread and no state. (psycopg never closes a
        # connection inherited from the parent, so the parent's probes are unaffected.)
        os.register_at_fork(after_in_child=self._setup)

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

    def reset(self) -> None:
        """Stop probing and forget every replica's state (tests; settings reloads)."""
        self.stop()
        with self._lock:
            self._replicas.clear()
            self._primaries.clear()
            self.tables = {}
            self.identities = {}

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            interval = 2.0
            try:
                config = get_config().routing
                interval = config.probe_interval_s
                self.probe_round(config)
            except ImproperlyConfigured as e:
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
        with self._lock:
            transitions = self._sync_members(config)
            in_use = set(self._replicas) | set(self._primaries)
            retired, self._retired = self._retired - in_use, set()
            members = list(self._replicas.values())
            primaries = list(self._primaries.values())
        for alias in retired:
            self._prober.close(alias)
        for primary in primaries:
            transitions += self._probe_primary(primary, config)
        for replica in members:
            transitions += self._probe_replica(replica, config)
        with self._lock:
            self._publish(config)
        announce(transitions, sender=HealthMonitor)

    def _probe_primary(self, primary: PrimaryHealth, config: RoutingSettings) -> list[Transition]:
        try:
            sample = self._prober.primary(primary.alias, config.probe_timeout_s)
        except psycopg.Error as e:
            with self._lock:
                return primary.failed(first_line(e))
        with self._lock:
            return primary.observe(sample)

    def _probe_replica(self, replica: ReplicaHealth, config: RoutingSettings) -> list[Transition]:
        if not replica.breaker.allow():
            return []  # open: do not hammer a dead server; half-open lets one probe through
        try:
            sample: ReplicaSample = self._prober.replica(replica.alias, config.probe_timeout_s)
        except psycopg.Error as e:
            replica.breaker.failure()
            with self._lock:
                return replica.failed(first_line(e))
        replica.breaker.success()
        with self._lock:  # request threads report failures on the same objects
            primary = self._primaries.get(replica.primary)
            lag_s, lag_bytes = replica_lag(primary, sample)
            return replica.observe(sample, primary, lag_s, lag_bytes, config)

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
    def report_failure(self, alias: str, error: str) -> None:
        """A query or connection to ``alias`` failed: take it out of rotation now."""
        with self._lock:
            replica = self._replicas.get(alias)
            if replica is None:
                return
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


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DBOPT", "DATABASES"):
        monitor.settings_changed()


setting_changed.connect(_on_setting_changed, dispatch_uid="django_dbopt.routing.health")

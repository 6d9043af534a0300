"""What the probes learn about each server, the state machine, and the routing tables.

Plain data and pure functions: ``health.py`` feeds them samples, the router reads the
``ClusterTable`` they build.
"""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.conf import RoutingSettings
from django_dbopt.routing.probe import PrimarySample, ReplicaSample
from django_dbopt.routing.tokens import Identity

ReplicaState = Literal["unknown", "healthy", "recovering", "lagging", "down", "promoted"]
PrimaryState = Literal["unknown", "primary", "demoted", "unreachable"]

#: how much a replica right at the lag limit still gets of its configured weight
MIN_WEIGHT_SHARE = 0.1


@dataclass(frozen=True)
class Transition:
    primary: str
    replica: str  # the primary's own alias for a primary's transitions
    old_state: str
    new_state: str
    reason: str


@dataclass
class PrimaryHealth:
    alias: str
    state: PrimaryState = "unknown"
    identity: Identity | None = None
    lsn: int | None = None
    #: recent (monotonic time, WAL position) observations, to bound replica lag in time
    history: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=512))
    last_error: str | None = None
    probed_at: float | None = None  # wall clock

    def observe(self, sample: PrimarySample) -> list[Transition]:
        self.probed_at = time.time()
        self.last_error = None
        if sample.in_recovery:
            self.lsn = None
            return self._become("demoted", "pg_is_in_recovery() is true")
        if self.identity is not None and sample.identity != self.identity:
            self.history.clear()  # positions on another timeline do not compare
        self.identity = sample.identity
        self.lsn = sample.lsn
        if sample.lsn is not None:
            self.history.append((sample.at, sample.lsn))
        return self._become("primary", "probe answered")

    def failed(self, error: str) -> list[Transition]:
        self.probed_at = time.time()
        self.last_error = error
        self.lsn = None
        return self._become("unreachable", error)

    def _become(self, state: PrimaryState, reason: str) -> list[Transition]:
        old, self.state = self.state, state
        if old == state or (old == "unknown" and state == "primary"):
            return []
        return [Transition(self.alias, self.alias, old, state, reason)]

    def copy(self) -> PrimaryHealth:
        return copy.copy(self)


@dataclass
class ReplicaHealth:
    alias: str
    primary: str
    weight: float
    breaker: CircuitBreaker
    state: ReplicaState = "unknown"
    reachable: bool | None = None
    in_recovery: bool | None = None
    lag_s: float | None = None
    lag_bytes: int | None = None
    replay_lsn: int | None = None
    good_probes: int = 0
    last_error: str | None = None
    probed_at: float | None = None  # wall clock
    #: time.monotonic() of the last probe that answered (None: never)
    ok_at: float | None = None

    def observe(
        self,
        sample: ReplicaSample,
        primary: PrimaryHealth | None,
        lag_s: float | None,
        lag_bytes: int | None,
        config: RoutingSettings,
    ) -> list[Transition]:
        self.probed_at = time.time()
        self.ok_at = time.monotonic()
        self.reachable, self.in_recovery = True, sample.in_recovery
        self.lag_s, self.lag_bytes = lag_s, lag_bytes
        self.replay_lsn = sample.replay_lsn
        self.last_error = None
        if not sample.in_recovery:
            self.good_probes = 0
            return self._become("promoted", "pg_is_in_recovery() is false")
        identity = primary.identity if primary else None
        if identity and identity.system_id and sample.system_id != identity.system_id:
            self.good_probes = 0
            self.last_error = "not a standby of its primary (other system identifier)"
            return self._become("down", self.last_error)
        if lag_s is None or lag_s > config.max_lag_s:
            self.good_probes = 0
            return self._become("lagging", f"lag {_seconds(lag_s)} > {config.max_lag_s}s")
        if lag_bytes is not None and lag_bytes > config.max_lag_bytes:
            self.good_probes = 0
            return self._become("lagging", f"lag {lag_bytes} B > {config.max_lag_bytes} B")
        self.good_probes += 1
        if self.state in ("unknown", "healthy") or self.good_probes >= config.failback_probes:
            return self._become("healthy", f"{self.good_probes} good probe(s)")
        return self._become("recovering", f"{self.good_probes} good probe(s)")

    def failed(self, error: str) -> list[Transition]:
        self.probed_at = time.time()
        self.reachable = False
        self.good_probes = 0
        self.last_error = error
        return self._become("down", error)

    def _become(self, state: ReplicaState, reason: str) -> list[Transition]:
        old, self.state = self.state, state
        if old == state:
            return []
        return [Transition(self.primary, self.alias, old, state, reason)]

    def copy(self) -> ReplicaHealth:
        return copy.copy(self)


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3f}s"


def replica_lag(
    primary: PrimaryHealth | None, sample: ReplicaSample
) -> tuple[float | None, int | None]:
    """Replay lag in seconds and WAL bytes.

    Seconds: 0 when the replica has replayed the primary's position. Otherwise the
    smaller of two upper bounds on staleness: the age of the last replayed commit
    (``pg_last_xact_replay_timestamp()``; alone it overstates lag after the primary was
    idle) and the time since the newest primary position the replica has reached was
    observed. Bytes: against the primary's ``pg_current_wal_lsn()``; unknown when the
    primary could not be probed.
    """
    replay = sample.replay_lsn
    if replay is None:
        return None, None
    if primary is None or primary.lsn is None:
        caught_up = sample.receive_lsn is not None and replay >= sample.receive_lsn
        return (0.0 if caught_up else sample.replay_age_s), None
    lag_bytes = max(0, primary.lsn - replay)
    if lag_bytes == 0:
        return 0.0, 0
    bounds = [] if sample.replay_age_s is None else [sample.replay_age_s]
    for observed_at, lsn in reversed(primary.history):
        if lsn <= replay:
            bounds.append(max(0.0, sample.at - observed_at))
            break
    if not bounds and primary.history:
        # reached none of the positions we saw: at least as old as the oldest of them
        bounds.append(max(0.0, sample.at - primary.history[0][0]))
    return (min(bounds) if bounds else None), lag_bytes


@dataclass(frozen=True)
class Candidate:
    alias: str
    weight: float  # configured weight decayed by lag
    lag_s: float
    replay_lsn: int


def max_probe_age(config: RoutingSettings) -> float:
    """How old a replica's last good probe may be while it stays in rotation."""
    if config.max_probe_age_s is not None:
        return config.max_probe_age_s
    return 3 * config.probe_interval_s + 2 * config.probe_timeout_s


@dataclass(frozen=True)
class ClusterTable:
    """What the router needs about one cluster, built after each probe round."""

    primary: str
    #: replicas in rotation
    fit: tuple[Candidate, ...] = ()
    total_weight: float = 0.0
    #: reachable standbys out of rotation only for lag, least lagged first
    stale: tuple[Candidate, ...] = ()
    #: no replica in rotation because every breaker is open
    breakers_open: bool = False
    #: time.monotonic() after which a replica in ``fit`` has gone too long without a
    #: good probe: the router asks the monitor for a fresh table then
    expires_at: float = math.inf


def build_table(
    primary: str, replicas: list[ReplicaHealth], config: RoutingSettings
) -> ClusterTable:
    fit, stale = [], []
    age = max_probe_age(config)
    now = time.monotonic()
    expires_at = math.inf
    for r in replicas:
        if r.lag_s is None or r.replay_lsn is None or r.ok_at is None or now - r.ok_at > age:
            continue
        share = 1.0
        if config.max_lag_s > 0:
            share = max(MIN_WEIGHT_SHARE, 1.0 - r.lag_s / config.max_lag_s)
        candidate = Candidate(r.alias, r.weight * share, r.lag_s, r.replay_lsn)
        if r.state == "healthy":
            fit.append(candidate)
            expires_at = min(expires_at, r.ok_at + age)
        elif r.state in ("lagging", "recovering") and r.reachable:
            stale.append(candidate)
    stale.sort(key=lambda c: c.lag_s)
    return ClusterTable(
        primary=primary,
        fit=tuple(fit),
        total_weight=sum(c.weight for c in fit),
        stale=tuple(stale),
        breakers_open=bool(replicas) and all(r.breaker.state != "closed" for r in replicas),
        expires_at=expires_at,
    )

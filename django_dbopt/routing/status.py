"""``status()``: this process's replica states and routing counters, as plain data.

For the ``dbopt_replicas`` command, the admin page and other parts (the pool manager's
health endpoint and Prometheus metrics)::

    from django_dbopt.routing import status
    report = status()              # what this process knows now (no I/O)
    report = status(refresh=True)  # probe every server first (blocks up to the timeouts)
    report.replicas[0].lag_s, report.counters["replica"], report.as_dict()
    probed_replica("replica1")     # one replica's state, probed now only if none is fresh
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_dbopt.routing import counters
from django_dbopt.routing.health import monitor
from django_dbopt.routing.states import max_probe_age
from django_dbopt.routing.tokens import format_lsn
from django_dbopt.topology import primary_of


@dataclass(frozen=True)
class ReplicaStatus:
    alias: str
    primary: str
    #: unknown, healthy, recovering, lagging, down or promoted
    state: str
    in_rotation: bool
    reachable: bool | None
    in_recovery: bool | None
    lag_s: float | None
    lag_bytes: int | None
    replay_lsn: str | None
    breaker: str  # closed, open or half_open
    weight: float
    #: routing decisions that chose this replica in this process
    reads: int
    good_probes: int
    last_error: str | None
    probed_at: float | None  # Unix time of the last probe
    #: seconds since the last probe that answered (None: never); past MAX_PROBE_AGE_S
    #: the replica is out of rotation
    good_probe_age_s: float | None = None


@dataclass(frozen=True)
class PrimaryStatus:
    alias: str
    #: unknown, primary, demoted or unreachable
    state: str
    system_id: str | None
    timeline: int | None
    wal_lsn: str | None
    last_error: str | None
    probed_at: float | None


@dataclass(frozen=True)
class RoutingStatus:
    primaries: list[PrimaryStatus]
    replicas: list[ReplicaStatus]
    #: read decisions by reason in this process (see ``counters.REASONS``)
    counters: dict[str, int]
    #: is this process's probe thread running
    probing: bool

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def status(refresh: bool = False) -> RoutingStatus:
    if refresh:
        monitor.probe_round()
    replicas, primaries = monitor.snapshot()
    reads = counters.reads()
    now = time.monotonic()
    return RoutingStatus(
        primaries=[
            PrimaryStatus(
                alias=p.alias,
                state=p.state,
                system_id=p.identity.system_id if p.identity else None,
                timeline=p.identity.timeline if p.identity else None,
                wal_lsn=format_lsn(p.lsn) if p.lsn is not None else None,
                last_error=p.last_error,
                probed_at=p.probed_at,
            )
            for p in primaries
        ],
        replicas=[
            ReplicaStatus(
                alias=r.alias,
                primary=r.primary,
                state=r.state,
                in_rotation=r.state == "healthy",
                reachable=r.reachable,
                in_recovery=r.in_recovery,
                lag_s=r.lag_s,
                lag_bytes=r.lag_bytes,
                replay_lsn=format_lsn(r.replay_lsn) if r.replay_lsn is not None else None,
                breaker=r.breaker.state,
                weight=r.weight,
                reads=reads.get(r.alias, 0),
                good_probes=r.good_probes,
                last_error=r.last_error,
                probed_at=r.probed_at,
                good_probe_age_s=None if r.ok_at is None else round(now - r.ok_at, 3),
            )
            for r in replicas
        ],
        counters=counters.snapshot(),
        probing=monitor.running,
    )


def probed_replica(alias: str) -> ReplicaStatus | None:
    """What the probes know of configured replica ``alias``, for answers that must stay
    short whatever the replica does (readiness, ``dbopt_pool``): this process's state
    when its last probe is recent, else after one probe round now (bounded by
    ``PROBE_TIMEOUT_S`` per phase, even on a hung server). None: not a configured
    replica, or ``DBOPT`` is broken."""
    if primary_of(alias) == alias:
        return None
    try:
        from django_dbopt.conf import get_config

        limit = max_probe_age(get_config().routing)
        found = _find(alias)
        if found is None or found.probed_at is None or time.time() - found.probed_at > limit:
            monitor.probe_round()
            found = _find(alias)
    except ImproperlyConfigured:
        return None
    return found


def _find(alias: str) -> ReplicaStatus | None:
    return next((r for r in status().replicas if r.alias == alias), None)

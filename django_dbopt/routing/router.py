"""``ReplicaRouter``: writes to the primary, reads to a fit replica, from memory only.

The decision reads the ``ClusterTable`` the health monitor published and the current
scope (``ContextVar``); it runs no query except in two cases that would hit the network
one step later anyway: a replica connection this thread has not opened yet is opened
here, so that a refused connection falls back to the primary instead of failing the read;
and a client whose read-your-writes position is past the replica's last probed position
gets one direct ``pg_last_wal_replay_lsn()`` on the chosen replica per scope.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from django.core.exceptions import SynchronousOnlyOperation
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Model

from django_dbopt.routing import counters
from django_dbopt.routing.events import first_line
from django_dbopt.routing.health import monitor
from django_dbopt.routing.scope import Scope, current_override, current_scope
from django_dbopt.routing.states import Candidate, ClusterTable
from django_dbopt.routing.tokens import Position, parse_lsn
from django_dbopt.topology import primary_of, replicas_of

logger = logging.getLogger("django_dbopt.routing")


class ReplicaRouter:
    """Put ``"django_dbopt.routing.ReplicaRouter"`` in ``DATABASE_ROUTERS``.

    Models read and write through ``default``'s cluster; subclass and override
    ``primary_for()`` to send some models to another primary.
    """

    def primary_for(self, model: type[Model], hints: dict[str, Any]) -> str:
        instance = hints.get("instance")
        if instance is not None and getattr(instance, "_state", None) is not None:
            db = instance._state.db
            if db is not None:
                return primary_of(db)
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        primary = self.primary_for(model, hints)
        return primary if primary in monitor.tables or _configured(primary) else None

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        primary = self.primary_for(model, hints)
        if not monitor.running:
            if not _configured(primary):
                return None
            monitor.ensure_started()  # the first read of this process starts the probes
        table = monitor.tables.get(primary)
        if table is not None and table.expires_at <= time.monotonic():
            table = monitor.expire(primary)  # probes stalled: never trust stale state
        return None if table is None else decide(table, primary)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        db1, db2 = obj1._state.db, obj2._state.db
        if db1 is None or db2 is None:
            return None
        p1, p2 = primary_of(db1), primary_of(db2)
        if p1 == p2:
            return True
        if _configured(p1) or _configured(p2):
            return False
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        return False if primary_of(db) != db else None


def _configured(primary: str) -> bool:
    return bool(replicas_of(primary))


def decide(table: ClusterTable, primary: str) -> str:
    """The alias one read on ``primary``'s cluster goes to (and count why)."""
    override = current_override.get()
    if override is not None and override[0] == "primary":
        return _primary(primary, "forced-primary")
    if connections[primary].in_atomic_block:
        return _primary(primary, "in-transaction")
    scope = current_scope.get()
    max_lag = override[1] if override is not None else None
    required: Position | None = None
    if scope is not None and override is None:
        if primary in scope.wrote:
            return _primary(primary, "primary-after-write")
        required = scope.required.get(primary)
    for _attempt in range(len(table.fit) + 1):
        candidate = _choose(table, scope, primary, max_lag, required)
        if candidate is None:
            break
        if required is not None and not _has_replayed(scope, candidate, required):
            return _primary(primary, "primary-after-write")
        if _connectable(candidate.alias):
            if scope is not None:
                scope.pinned[primary] = candidate.alias
            counters.add("replica", candidate.alias)
            return candidate.alias
        table = monitor.tables.get(primary, table)
    return _fallback(table, primary, max_lag, required)


def _choose(
    table: ClusterTable,
    scope: Scope | None,
    primary: str,
    max_lag: float | None,
    required: Position | None = None,
) -> Candidate | None:
    """A replica by weight (the scope's pinned one if it qualifies).

    With a required position, replicas whose last probe shows it replayed are preferred;
    if none does, one is still chosen, for a direct check.
    """
    fit = table.fit
    if max_lag is not None:  # use_replica(max_lag=...): may accept a lagging replica too
        fit = tuple(c for c in (*table.fit, *table.stale) if c.lag_s <= max_lag)
    if not fit:
        return None
    if required is not None:
        fit = tuple(c for c in fit if c.replay_lsn >= required.lsn) or fit
    pinned = scope.pinned.get(primary) if scope is not None else None
    if pinned is not None:
        for c in fit:
            if c.alias == pinned:
                return c
    total = table.total_weight if fit is table.fit else sum(c.weight for c in fit)
    point = random.random() * total  # noqa: S311  (load spreading, not security)
    for c in fit:
        point -= c.weight
        if point < 0:
            return c
    return fit[-1]


def _fallback(
    table: ClusterTable, primary: str, max_lag: float | None, required: Position | None
) -> str:
    from django_dbopt.conf import get_config

    config = get_config().routing
    if config.no_fit_replica == "least_lagged" and required is None:
        limit = config.max_staleness_s if max_lag is None else min(max_lag, config.max_staleness_s)
        for c in table.stale:
            if c.lag_s <= limit and _connectable(c.alias):
                counters.add("stale-replica", c.alias)
                return c.alias
    return _primary(primary, "breaker-open" if table.breakers_open else "no-fit-replica")


def _primary(primary: str, reason: str) -> str:
    counters.add(reason)
    return primary


def _has_replayed(scope: Scope | None, candidate: Candidate, required: Position) -> bool:
    """Has ``candidate`` replayed ``required``? Probe state first, else one direct check."""
    if candidate.replay_lsn >= required.lsn:
        return True
    key = (candidate.alias, required.lsn)
    if scope is not None and key in scope.checked:
        return scope.checked[key]
    try:
        with connections[candidate.alias].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn()::text")
            row = cursor.fetchone()
    except SynchronousOnlyOperation:
        return False  # called from async code: not checkable here, so read the primary
    except DatabaseError as e:
        monitor.report_failure(candidate.alias, first_line(e))
        return False
    replayed = parse_lsn(row[0]) if row and row[0] else 0
    monitor.note_replayed(candidate.alias, replayed)
    answer = replayed >= required.lsn
    if scope is not None:
        scope.checked[key] = answer
    return answer


def _connectable(alias: str) -> bool:
    """Open this thread's connection to ``alias`` now if it is not open (see module doc)."""
    conn = connections[alias]
    if conn.connection is not None:
        return True
    try:
        conn.ensure_connection()
    except SynchronousOnlyOperation:
        return True  # async context: the ORM connects in its own thread later
    except DatabaseError as e:
        logger.warning("replica %s refused a connection; reading from its primary", alias)
        monitor.report_failure(alias, first_line(e))
        return False
    return True

"""Per-alias pool statistics of this process.

Read at call time from the pools Django keeps (``DatabaseWrapper._connection_pools``,
keyed by alias): psycopg_pool's ``get_stats()`` plus, for pools made by the
``django_dbopt.pool.postgresql`` engine, the checkout tracker's counters and the breaker.
Counters are accumulated per process: when a pool is closed (``close_pool()``, a time
zone change in tests) its counters are folded into the alias's totals first. A forked
child starts from zero (``fork.py``).

An alias whose pool has not been created in this process has no entry: "no data".
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from django.db import connections

if TYPE_CHECKING:
    from django_dbopt.pool.managed import ManagedPool

#: psycopg_pool gauges (not summed across retired pools)
GAUGES = ("pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting")
#: psycopg_pool counters
POOL_COUNTERS = (
    "requests_num",
    "requests_queued",
    "requests_wait_ms",
    "requests_errors",
    "connections_num",
    "connections_ms",
    "connections_errors",
    "connections_lost",
    "returns_bad",
    "usage_ms",
)
#: the tracker's counters
TRACKER_COUNTERS = (
    "checkouts",
    "leaks_held_too_long",
    "leaks_request_end",
    "breaker_rejections",
    "exhausted",
    "unavailable",
    "dead_on_checkout",
    "resets",
    "reset_failures",
)

_retired: dict[str, Counter[str]] = {}
_retired_peak: dict[str, int] = {}


def live_pools() -> dict[str, Any]:
    """The psycopg pools of this process by alias (Django's own dict, not a copy of it)."""
    try:
        from django.db.backends.postgresql.base import DatabaseWrapper
    except ImportError:  # no psycopg installed
        return {}
    pools: dict[str, Any] = DatabaseWrapper._connection_pools  # type: ignore[attr-defined]
    return pools


def pooled_aliases() -> list[str]:
    """Aliases configured with ``OPTIONS["pool"]``, whether or not their pool exists yet."""
    return [
        alias
        for alias, conf in connections.settings.items()
        if (conf.get("OPTIONS") or {}).get("pool")
    ]


def retire(pool: ManagedPool) -> None:
    """Fold a closing pool's counters into its alias's per-process totals."""
    totals = _retired.setdefault(pool.alias, Counter())
    stats = pool.get_stats()
    for key in POOL_COUNTERS:
        totals[key] += stats.get(key, 0)
    for key in TRACKER_COUNTERS:
        totals[key] += pool.tracker.counters[key]
    _retired_peak[pool.alias] = max(_retired_peak.get(pool.alias, 0), pool.tracker.peak)


def forget_retired() -> None:
    """A new process starts from zero (called in a forked child)."""
    _retired.clear()
    _retired_peak.clear()


def pool_stats(alias: str) -> dict[str, Any] | None:
    """This process's numbers for ``alias``, or ``None`` when it has no pool here."""
    pool = live_pools().get(alias)
    if pool is None:
        return None
    from django_dbopt.pool.managed import ManagedPool

    managed = isinstance(pool, ManagedPool)
    if managed:
        pool.tracker.sweep()
    raw = pool.get_stats()
    retired = _retired.get(alias, Counter())
    counters = {key: raw.get(key, 0) + retired[key] for key in POOL_COUNTERS}
    result: dict[str, Any] = {
        "alias": alias,
        "managed": managed,
        **{key: raw.get(key, 0) for key in GAUGES},
        "counters": counters,
        "timeout_s": pool.timeout,
        "closed": pool.closed,
    }
    if managed:
        now = time.monotonic()
        result["counters"].update(
            {key: pool.tracker.counters[key] + retired[key] for key in TRACKER_COUNTERS}
        )
        result["in_use"] = len(pool.tracker.held)
        result["peak_in_use"] = max(pool.tracker.peak, _retired_peak.get(alias, 0))
        result["held"] = [c.as_dict(now) for c in pool.tracker.snapshot()]
        result["breaker"] = pool.breaker.state
        result["last_connect_error"] = pool.last_connect_error
    else:
        result["in_use"] = max(0, raw.get("pool_size", 0) - raw.get("pool_available", 0))
    return result


def all_pool_stats() -> dict[str, dict[str, Any] | None]:
    """``pool_stats`` for every alias configured with a pool (``None``: no data yet)."""
    return {alias: pool_stats(alias) for alias in pooled_aliases()}

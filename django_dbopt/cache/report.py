"""``stats()``: the cache's measured counters, for the command, the admin page and the
pool part's Prometheus exporter. Plain data, no side effects beyond one Redis read."""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

from django_dbopt.cache.backend import TwoTierCache
from django_dbopt.cache.counters import shape
from django_dbopt.cache.l2 import L2Down
from django_dbopt.cache.state import CacheState
from django_dbopt.conf import get_config


def state_of(alias: str | None = None) -> CacheState:
    name = alias or get_config().cache.cache
    backend = caches[name]
    if not isinstance(backend, TwoTierCache):
        raise ImproperlyConfigured(
            f"CACHES[{name!r}] is not a django_dbopt.cache.TwoTierCache. (django_dbopt.E030)"
        )
    return backend.state


def stats(alias: str | None = None) -> dict[str, Any]:
    """Measured counters of the ``TwoTierCache`` ``alias`` (default: ``DBOPT['CACHE']
    ['CACHE']``)::

        {
          "alias": "default",
          "mode": "two_tier" | "l1_only",  # l1_only: no L2, this process only
          "redis": "up" | "down" | "none",  # none: L1-only mode
          "breaker": "closed" | "open" | "half_open",  # this process's Redis breaker
          "l1": {"bytes": int, "max_bytes": int, "entries": int, "evictions": int,
                 "subscribed": bool, "lease": bool},  # lease: L1 may be trusted now
          "process": {"tiers": {"l1": {...}, "l2": {...}}, "tables": {name: {...}}},
          "all_processes": same shape, summed over every process, or None (Redis down),
        }

    Each tier has ``hits``, ``misses``, ``sets``, ``deletes``, ``bytes_read``,
    ``bytes_written``, ``errors`` and ``hit_ratio`` (``None`` before the first lookup);
    each table has ``hits``, ``misses``, ``invalidations``, ``bytes_served`` (encoded
    bytes of cached results served for queries reading it) and ``hit_ratio``. A process
    adds its counts to ``all_processes`` every 2 seconds.
    """
    st = state_of(alias)
    everyone: dict[str, Any] | None = None
    if not st.local:
        st.flush_stats()
        try:
            raw = st.tier.run(lambda c: c.hgetall(st.stats_key))
            everyone = shape({k.decode(): int(v) for k, v in raw.items()})
        except L2Down:
            everyone = None
    return {
        "alias": alias or get_config().cache.cache,
        "mode": "l1_only" if st.local else "two_tier",
        "redis": "none" if st.local else "up" if everyone is not None else "down",
        "breaker": st.tier.breaker.state,
        "l1": {
            "bytes": st.l1.bytes_used,
            "max_bytes": st.l1.max_bytes,
            "entries": len(st.l1),
            "evictions": st.l1.evictions,
            "subscribed": st.subscribed,
            "lease": st.l1_on,
        },
        "process": shape(st.stats.snapshot()),
        "all_processes": everyone,
    }


def reset_stats(alias: str | None = None) -> None:
    st = state_of(alias)
    st.stats.take_unflushed()
    if st.local:
        st.stats.clear()
        return
    st.tier.run(lambda c: c.delete(st.stats_key))

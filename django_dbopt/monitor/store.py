"""The shared store: every process's aggregates merged, in time buckets.

``DatabaseStore`` (the default) inserts one row per (bucket, fingerprint, view) per flush
and never updates rows another process may write; ``compact`` later folds each closed
bucket into one row, and buckets older than ``ROLLUP_AFTER_H`` into hour rows; ``prune``
deletes what is older than ``RETENTION_DAYS`` in bounded batches. ``RedisStore``
(``STORE_CACHE`` names a django-redis cache) merges with atomic hash increments instead.
Both read back the same ``Stats``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any, Protocol

from django_dbopt.conf import get_config
from django_dbopt.monitor.aggregates import Key, Snapshot, Stats
from django_dbopt.monitor.scope import Finding


class Store(Protocol):
    def write(
        self, snapshot: Snapshot, slow: list[dict[str, Any]], findings: list[Finding]
    ) -> None: ...

    def load(
        self, since: datetime.datetime | None, view: str | None = None
    ) -> dict[Key, Stats]: ...

    def maintain(self) -> dict[str, int]: ...

    def slow_queries(
        self, since: datetime.datetime | None, view: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]: ...

    def findings(
        self, since: datetime.datetime | None, view: str | None = None
    ) -> list[dict[str, Any]]: ...

    def shapes(self, fingerprints: Iterable[str]) -> dict[str, tuple[str, str]]:
        """``{fingerprint: (normalized sql, alias)}``."""
        ...

    def processes(self, since: datetime.datetime | None) -> dict[str, int]:
        """Flushes, distinct processes and evictions reported since ``since``."""
        ...


def bucket_start(at: datetime.datetime, resolution_s: int) -> datetime.datetime:
    epoch = int(at.timestamp())
    return datetime.datetime.fromtimestamp(epoch - epoch % resolution_s, tz=datetime.UTC)


def merge_by(stats: Iterable[tuple[Key, Stats]], by_view: bool) -> dict[str, Stats]:
    """Merge (fingerprint, view) aggregates into per-fingerprint or per-view ones."""
    out: dict[str, Stats] = {}
    for (fp, view), item in stats:
        key = view if by_view else fp
        if key not in out:
            out[key] = Stats(item.fingerprint, item.alias)
        out[key].merge(item)
    return out


def get_store() -> Store:
    alias = get_config().monitor.store_cache
    if alias:
        from django_dbopt.monitor.redis_store import RedisStore

        return RedisStore(alias)
    from django_dbopt.monitor.db_store import DatabaseStore

    return DatabaseStore()

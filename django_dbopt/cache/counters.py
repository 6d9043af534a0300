"""Measured cache counters: per tier (L1, L2) and per table, in this process and in all.

Each process counts in memory (a lock around plain ints); the listener thread adds this
process's deltas to a Redis hash every ``FLUSH_EVERY_S`` seconds, so ``stats()`` and the
``dbopt_cache stats`` command can show the sum over every process that used the cache.
Nothing is estimated: a ratio is given only when there was at least one lookup.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

FLUSH_EVERY_S = 2.0

#: counter names per tier; "bytes_read"/"bytes_written" are value bytes moved to/from
#: Redis; per table, "bytes_served" are the (encoded) bytes of results served from cache
TIER_FIELDS = ("hits", "misses", "sets", "deletes", "bytes_read", "bytes_written", "errors")
TABLE_FIELDS = ("hits", "misses", "invalidations", "bytes_served")
#: acknowledged invalidations this process waited for (leases.py): how many waits, how
#: many lease holders did not acknowledge (their lease ran out instead), time waited (µs)
ACK_FIELDS = ("waits", "expired", "wait_us")


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total: Counter[str] = Counter()
        self._unflushed: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._total[name] += amount
            self._unflushed[name] += amount

    def add_many(self, names: list[str], amount: int = 1) -> None:
        with self._lock:
            for name in names:
                self._total[name] += amount
                self._unflushed[name] += amount

    def add_sized(self, names: list[str], sized: list[str], size: int) -> None:
        """Add 1 to each of ``names`` and ``size`` to each of ``sized``, under one lock."""
        with self._lock:
            total, unflushed = self._total, self._unflushed
            for name in names:
                total[name] += 1
                unflushed[name] += 1
            for name in sized:
                total[name] += size
                unflushed[name] += size

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._total)

    def take_unflushed(self) -> dict[str, int]:
        with self._lock:
            out = dict(self._unflushed)
            self._unflushed.clear()
            return out

    def clear(self) -> None:
        with self._lock:
            self._total.clear()
            self._unflushed.clear()

    def give_back(self, deltas: dict[str, int]) -> None:
        """Deltas that could not be flushed are kept for the next flush."""
        with self._lock:
            self._unflushed.update(deltas)


def shape(counters: dict[str, int]) -> dict[str, Any]:
    """Flat counters (``l1.hits``, ``table.users.misses``) -> the documented structure."""
    tiers: dict[str, dict[str, Any]] = {}
    tables: dict[str, dict[str, Any]] = {}
    for name, value in counters.items():
        kind, _, rest = name.partition(".")
        if kind in ("l1", "l2"):
            tiers.setdefault(kind, dict.fromkeys(TIER_FIELDS, 0))[rest] = int(value)
        elif kind == "table":
            table, _, field = rest.rpartition(".")
            tables.setdefault(table, dict.fromkeys(TABLE_FIELDS, 0))[field] = int(value)
    for entry in [*tiers.values(), *tables.values()]:
        looked = entry["hits"] + entry["misses"]
        entry["hit_ratio"] = round(entry["hits"] / looked, 4) if looked else None
    acks = {field: int(counters.get(f"acks.{field}", 0)) for field in ACK_FIELDS}
    return {"tiers": tiers, "tables": dict(sorted(tables.items())), "acks": acks}

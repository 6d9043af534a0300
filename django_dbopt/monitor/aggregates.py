"""In-process aggregates per (fingerprint, view): calls, total, min, max, slow, histogram.

One ``Aggregates`` per process holds the deltas since the last flush. It is bounded:
at most ``MAX_FINGERPRINTS`` keys; when full, the least recently used key is evicted and
the eviction counted (``evictions``), so memory stays flat under a flood of distinct
shapes. ``drain()`` swaps the data out for the flusher in O(1) under the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django_dbopt.monitor import histogram
from django_dbopt.monitor.fingerprint import Fingerprint


class Stats:
    """Aggregates of one key. Mergeable: ``a.merge(b)`` equals having recorded both."""

    __slots__ = ("alias", "calls", "fingerprint", "hist", "max_ns", "min_ns", "slow", "total_ns")

    def __init__(self, fingerprint: Fingerprint, alias: str) -> None:
        self.fingerprint = fingerprint
        self.alias = alias
        self.calls = 0
        self.total_ns = 0
        self.min_ns = 0
        self.max_ns = 0
        self.slow = 0
        self.hist: dict[int, int] = {}

    def add(self, ns: int, slow: bool) -> None:
        if self.calls == 0 or ns < self.min_ns:
            self.min_ns = ns
        if ns > self.max_ns:
            self.max_ns = ns
        self.calls += 1
        self.total_ns += ns
        if slow:
            self.slow += 1
        index = histogram.bucket_of(ns)
        self.hist[index] = self.hist.get(index, 0) + 1

    def merge(self, other: Stats) -> None:
        if other.calls == 0:
            return
        if self.calls == 0 or other.min_ns < self.min_ns:
            self.min_ns = other.min_ns
        self.max_ns = max(self.max_ns, other.max_ns)
        self.calls += other.calls
        self.total_ns += other.total_ns
        self.slow += other.slow
        histogram.merge(self.hist, other.hist)

    def to_row(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "total_ms": self.total_ns / 1e6,
            "min_ms": self.min_ns / 1e6,
            "max_ms": self.max_ns / 1e6,
            "slow": self.slow,
            "histogram": histogram.to_json(self.hist),
        }

    @classmethod
    def from_row(cls, fingerprint: Fingerprint, alias: str, row: dict[str, Any]) -> Stats:
        stats = cls(fingerprint, alias)
        stats.calls = int(row["calls"])
        stats.total_ns = round(float(row["total_ms"]) * 1e6)
        stats.min_ns = round(float(row["min_ms"]) * 1e6)
        stats.max_ns = round(float(row["max_ms"]) * 1e6)
        stats.slow = int(row["slow"])
        stats.hist = histogram.from_json(row["histogram"])
        return stats


Key = tuple[str, str]  # (fingerprint id, view)


@dataclass
class Snapshot:
    stats: dict[Key, Stats] = field(default_factory=dict)
    evictions: int = 0


class Aggregates:
    def __init__(self, max_keys: int = 5000) -> None:
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._data: OrderedDict[Key, Stats] = OrderedDict()
        self.evictions = 0  # since the last drain
        self.evictions_total = 0

    def add(self, fp: Fingerprint, alias: str, view: str, ns: int, slow: bool) -> None:
        key = (fp.id, view)
        with self._lock:
            stats = self._data.get(key)
            if stats is None:
                if len(self._data) >= self.max_keys:
                    self._data.popitem(last=False)
                    self.evictions += 1
                    self.evictions_total += 1
                stats = self._data[key] = Stats(fp, alias)
            else:
                self._data.move_to_end(key)
            stats.add(ns, slow)

    def __len__(self) -> int:
        return len(self._data)

    def peek(self) -> dict[Key, Stats]:
        """A shallow copy of the current deltas (for reports of this process)."""
        with self._lock:
            return dict(self._data)

    def drain(self) -> Snapshot:
        with self._lock:
            data, self._data = self._data, OrderedDict()
            evictions, self.evictions = self.evictions, 0
        return Snapshot(dict(data), evictions)

    def restore(self, snapshot: Snapshot) -> None:
        """Put back a snapshot a failed flush could not write (merged with newer data)."""
        with self._lock:
            for key, stats in snapshot.stats.items():
                current = self._data.get(key)
                if current is None:
                    if len(self._data) >= self.max_keys:
                        self.evictions += 1
                        self.evictions_total += 1
                        continue
                    self._data[key] = stats
                else:
                    current.merge(stats)
            self.evictions += snapshot.evictions


#: this process's aggregates
AGGREGATES = Aggregates()

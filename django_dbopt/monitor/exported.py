"""This process's running query totals, for the Prometheus endpoint.

The in-process aggregates hold only the deltas since the last flush. The flusher folds
each snapshot it wrote into the totals here (off the request path), per (alias,
fingerprint) with views merged, so ``query_stats()`` can serve counters that only grow.
The totals are bounded like the aggregates (``MONITOR['MAX_FINGERPRINTS']`` keys; the
key with the least total time goes first).

Latency buckets are the monitor's own histogram folded into Prometheus-style bounds: an
observation counts under the first bound at or above its histogram bucket's upper edge,
so a count is never attributed to a bound below the true duration.
"""

from __future__ import annotations

import threading
from typing import Any

from django_dbopt.monitor import histogram
from django_dbopt.monitor.aggregates import AGGREGATES, Snapshot, Stats

#: upper bounds in seconds (Prometheus' defaults, extended down to 100 µs)
BOUNDS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
            0.5, 1.0, 2.5, 5.0, 10.0)  # fmt: skip

Key = tuple[str, str]  # (alias, fingerprint id)


class Totals:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[Key, Stats] = {}

    def fold(self, snapshot: Snapshot, max_keys: int) -> None:
        with self._lock:
            _merge_into(self._data, snapshot.stats.values())
            if len(self._data) > max_keys:
                keep = sorted(self._data.items(), key=lambda kv: kv[1].total_ns)[-max_keys:]
                self._data = dict(keep)

    def query_stats(self, limit: int) -> list[dict[str, Any]]:
        """Totals plus the not yet flushed deltas, most total time first."""
        with self._lock:
            merged = {key: _copy(stats) for key, stats in self._data.items()}
        _merge_into(merged, AGGREGATES.peek().values())
        top = sorted(merged.values(), key=lambda s: s.total_ns, reverse=True)[:limit]
        return [
            {
                "alias": s.alias,
                "fingerprint": s.fingerprint.id,
                "count": s.calls,
                "total_s": s.total_ns / 1e9,
                "buckets": _buckets(s.hist),
            }
            for s in top
        ]


def _copy(stats: Stats) -> Stats:
    copy = Stats(stats.fingerprint, stats.alias)
    copy.merge(stats)
    return copy


def _merge_into(data: dict[Key, Stats], items: Any) -> None:
    for stats in items:
        key = (stats.alias, stats.fingerprint.id)
        if key not in data:
            data[key] = Stats(stats.fingerprint, stats.alias)
        data[key].merge(stats)


def _buckets(hist: dict[int, int]) -> list[tuple[float, int]]:
    counts = [0] * len(BOUNDS_S)
    beyond = 0
    for index, count in hist.items():
        high_s = histogram.bucket_bounds(index)[1] / 1e9
        for i, bound in enumerate(BOUNDS_S):
            if high_s <= bound:
                counts[i] += count
                break
        else:
            beyond += count
    cumulative, running = [], 0
    for bound, count in zip(BOUNDS_S, counts, strict=True):
        running += count
        cumulative.append((bound, running))
    cumulative.append((float("inf"), running + beyond))
    return cumulative


#: this process's totals
TOTALS = Totals()

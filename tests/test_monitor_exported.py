from __future__ import annotations

from django_dbopt.monitor import histogram
from django_dbopt.monitor.exported import BOUNDS_S, _buckets


def test_buckets_are_cumulative_and_never_below_the_duration() -> None:
    hist: dict[int, int] = {}
    for ns in (50_000, 400_000, 400_000, 3_000_000, 20_000_000_000):
        index = histogram.bucket_of(ns)
        hist[index] = hist.get(index, 0) + 1
    buckets = dict(_buckets(hist))
    assert list(buckets)[:-1] == list(BOUNDS_S)
    assert buckets[0.0001] == 1  # 50 us
    assert buckets[0.00025] == 1
    assert buckets[0.0005] == 3  # + the two 400 us
    assert buckets[0.0025] == 3  # 3 ms is not under 2.5 ms
    assert buckets[0.005] == 4
    assert buckets[10.0] == 4  # 20 s only in +Inf
    assert buckets[float("inf")] == 5
    counts = list(buckets.values())
    assert counts == sorted(counts)

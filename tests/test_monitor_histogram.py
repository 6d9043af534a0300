"""The histogram's percentiles are within its stated relative error of the exact ones."""

from __future__ import annotations

import math
import random

import pytest

from django_dbopt.monitor import histogram


def exact(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_buckets_are_monotonic_and_cover_their_values() -> None:
    previous = -1
    for ns in sorted({*range(0, 200), *(int(1.07**k) for k in range(60, 400))}):
        index = histogram.bucket_of(ns)
        low, high = histogram.bucket_bounds(index)
        assert low <= ns < high
        assert index >= previous
        previous = index
        assert (high - low) <= max(1, low * 2 * histogram.RELATIVE_ERROR)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_match_brute_force_within_the_stated_error(seed: int) -> None:
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(12, 1.5)) + 1 for _ in range(5000)]
    hist: dict[int, int] = {}
    for v in values:
        b = histogram.bucket_of(v)
        hist[b] = hist.get(b, 0) + 1
    for q in (0.5, 0.95, 0.99):
        true = exact(values, q)
        got = histogram.percentile(hist, q)
        assert got is not None
        assert abs(got - true) <= true * histogram.RELATIVE_ERROR


def test_merge_equals_recording_everything_in_one() -> None:
    rng = random.Random(7)
    a = [rng.randrange(1, 10**9) for _ in range(1000)]
    b = [rng.randrange(1, 10**6) for _ in range(1000)]
    one: dict[int, int] = {}
    ha: dict[int, int] = {}
    hb: dict[int, int] = {}
    for v in a:
        ha[histogram.bucket_of(v)] = ha.get(histogram.bucket_of(v), 0) + 1
    for v in b:
        hb[histogram.bucket_of(v)] = hb.get(histogram.bucket_of(v), 0) + 1
    for v in a + b:
        one[histogram.bucket_of(v)] = one.get(histogram.bucket_of(v), 0) + 1
    assert histogram.merge(dict(ha), hb) == one
    assert histogram.from_json(histogram.to_json(one)) == one


def test_empty_histogram_has_no_percentiles() -> None:
    assert histogram.percentile({}, 0.5) is None
    assert histogram.percentiles_ms({}) == {"p50": None, "p95": None, "p99": None}

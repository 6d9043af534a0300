"""A mergeable log-bucketed latency histogram (HDR-style), in nanoseconds.

A duration ``d`` falls in the bucket ``[m << s, (m + 1) << s)`` where ``m`` keeps the top
``SUB_BITS + 1`` bits of ``d``: every power-of-two range is cut into ``2**SUB_BITS``
equal buckets. A bucket is at most ``1 / 2**SUB_BITS`` of its lower bound wide, and a
percentile is reported as its bucket's midpoint, so the reported value is within
``RELATIVE_ERROR`` (1/32, about 3.1%) of the true nearest-rank percentile. Histograms
are plain ``{bucket: count}`` dicts: merging is adding counts, in any order, in any
process.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

SUB_BITS = 4
RELATIVE_ERROR = 1 / (2 ** (SUB_BITS + 1))
_LINEAR = 2 ** (SUB_BITS + 1)  # below this every nanosecond has its own bucket


def bucket_of(ns: int) -> int:
    if ns < _LINEAR:
        return max(ns, 0)
    shift = ns.bit_length() - SUB_BITS - 1
    return (shift << SUB_BITS) + (ns >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """``[low, high)`` in nanoseconds of one bucket."""
    if index < _LINEAR:
        return index, index + 1
    shift = (index >> SUB_BITS) - 1
    mantissa = index - (shift << SUB_BITS)
    return mantissa << shift, (mantissa + 1) << shift


def merge(into: dict[int, int], other: Mapping[int, int]) -> dict[int, int]:
    for index, count in other.items():
        into[index] = into.get(index, 0) + count
    return into


def percentile(hist: Mapping[int, int], q: float) -> float | None:
    """The nearest-rank ``q`` quantile (0 < q <= 1) in nanoseconds, None when empty."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(hist):
        seen += hist[index]
        if seen >= rank:
            low, high = bucket_bounds(index)
            return low if high - low == 1 else (low + high) / 2
    raise AssertionError("unreachable: rank <= total")


def percentiles_ms(
    hist: Mapping[int, int], qs: Iterable[float] = (0.5, 0.95, 0.99)
) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for q in qs:
        value = percentile(hist, q)
        out[f"p{round(q * 100):d}"] = None if value is None else value / 1e6
    return out


def to_json(hist: Mapping[int, int]) -> dict[str, int]:
    return {str(k): v for k, v in hist.items()}


def from_json(data: Mapping[str, int]) -> dict[int, int]:
    return {int(k): int(v) for k, v in data.items()}

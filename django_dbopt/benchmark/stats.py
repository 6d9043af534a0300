"""Statistics for comparisons: a bootstrap interval of a ratio, Mann-Whitney U.

Both work on small samples of repeated trials (a handful of per-trial means), which is
what a benchmark on a shared machine can afford; neither assumes normal data.
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Ratio:
    value: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return {"ratio": self.value, "ci_low": self.low, "ci_high": self.high, "rounds": self.n}


def bootstrap_ratio(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    paired: bool = True,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 13,
) -> Ratio | None:
    """``mean(numerator) / mean(denominator)`` with a percentile bootstrap interval.

    ``paired``: the samples are rounds measured side by side (A/B rounds), resampled
    together. None when there is nothing to divide by.
    """
    if not numerator or not denominator or sum(denominator) == 0:
        return None
    value = statistics.fmean(numerator) / statistics.fmean(denominator)
    rng = random.Random(seed)  # noqa: S311 (resampling)
    ratios: list[float] = []
    for _ in range(resamples):
        if paired:
            idx = [rng.randrange(len(numerator)) for _ in numerator]
            num = [numerator[i] for i in idx]
            den = [denominator[i] for i in idx]
        else:
            num = rng.choices(numerator, k=len(numerator))
            den = rng.choices(denominator, k=len(denominator))
        mean_den = statistics.fmean(den)
        if mean_den > 0:
            ratios.append(statistics.fmean(num) / mean_den)
    ratios.sort()
    tail = (1 - confidence) / 2
    low = ratios[int(tail * (len(ratios) - 1))]
    high = ratios[math.ceil((1 - tail) * (len(ratios) - 1))]
    return Ratio(value, low, high, len(numerator))


@functools.cache
def _u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """Number of arrangements giving each U (0..n1*n2) for samples of n1 and n2 (no ties)."""
    if n1 == 0 or n2 == 0:
        return (1,)
    # U(n1, n2) = U(n1 - 1, n2) + n2  (largest value in sample 1)  or  U(n1, n2 - 1)
    first = _u_counts(n1 - 1, n2)
    second = _u_counts(n1, n2 - 1)
    out = [0] * (n1 * n2 + 1)
    for u, c in enumerate(first):
        out[u + n2] += c
    for u, c in enumerate(second):
        out[u] += c
    return tuple(out)


def mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """One-sided Mann-Whitney U test that ``x`` tends to be larger than ``y``.

    Returns ``(U, p)``; ``U`` counts pairs with ``x > y`` (ties count a half). Exact
    p-value for small samples (ties are rare for means of timings), normal
    approximation with continuity correction beyond 400 pairs.
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    u = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)
    if n1 * n2 <= 400:
        counts = _u_counts(n1, n2)
        total = sum(counts)
        floor = math.floor(u + 1e-9)  # a tie counted conservatively
        at_least = sum(c for value, c in enumerate(counts) if value >= floor)
        return u, at_least / total
    mean = n1 * n2 / 2
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    z = (u - mean - 0.5) / sd
    return u, 0.5 * math.erfc(z / math.sqrt(2))

"""Grades against targets, each explained.

Targets come from ``DBOPT['BENCHMARK']['TARGETS']`` over these defaults, which are the
alert thresholds django-dbopt ships with (docs/health_and_metrics.md) where there is
one: average query under 50 ms, cache hit ratio over 80 %, pool under 90 % used,
replica lag under 10 s; P99 of an operation under the monitor's slow-query threshold
(``MONITOR.SLOW_QUERY_MS``, 200 ms); errors under 0.1 % of operations.

A "max" target (lower is better) grades A at half the target or less, B within it, C
up to 1.5x, D up to 2x, F beyond. A "min" target (hit ratio) grades A at least halfway
from the target to 100 %, B at the target, C within 10 points below, D within 20, F
below. A figure that was not measured is "no data" and not graded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LETTERS = "ABCDF"


@dataclass(frozen=True)
class Target:
    key: str
    title: str
    kind: str  # "max" or "min"
    unit: str
    default: float


TARGETS = (
    Target("avg_query_ms", "average query time", "max", "ms", 50.0),
    Target("p99_ms", "P99 of an operation", "max", "ms", 200.0),
    Target("error_rate", "errors per operation", "max", "%", 0.001),
    Target("cache_hit_ratio", "cache hit ratio", "min", "%", 0.80),
    Target("replica_lag_s", "replica lag", "max", "s", 10.0),
    Target("pool_usage", "pool usage at peak", "max", "%", 0.90),
)
KEYS = tuple(t.key for t in TARGETS)


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:.3g} %"
    return f"{value:.3g} {unit}"


def _letter(target: Target, value: float, goal: float) -> str:
    if target.kind == "max":
        if goal <= 0:
            return "A" if value <= 0 else "F"
        steps = (0.5, 1.0, 1.5, 2.0)
        ratio = value / goal
        return next((LETTERS[i] for i, s in enumerate(steps) if ratio <= s), "F")
    headroom = goal + (1 - goal) / 2
    limits = (headroom, goal, goal - 0.10, goal - 0.20)
    return next((LETTERS[i] for i, s in enumerate(limits) if value >= s), "F")


def grade(measured: Mapping[str, float | None], targets: Mapping[str, float]) -> dict[str, Any]:
    """One entry per target (graded or "no data") and the overall (worst) grade."""
    entries = []
    for target in TARGETS:
        goal = float(targets.get(target.key, target.default))
        value = measured.get(target.key)
        sign = "<=" if target.kind == "max" else ">="
        wanted = f"target {sign} {_fmt(goal, target.unit)}"
        if value is None:
            entries.append(
                {
                    "key": target.key,
                    "grade": None,
                    "value": None,
                    "target": goal,
                    "explanation": f"{target.title}: no data ({wanted})",
                }
            )
            continue
        letter = _letter(target, value, goal)
        verdict = "meets" if letter in "AB" else "misses"
        entries.append(
            {
                "key": target.key,
                "grade": letter,
                "value": value,
                "target": goal,
                "explanation": (
                    f"{target.title} {_fmt(value, target.unit)} {verdict} the {wanted}"
                    + (" with room to spare" if letter == "A" else "")
                ),
            }
        )
    graded: list[str] = [str(e["grade"]) for e in entries if e["grade"]]
    overall = max(graded, key=LETTERS.index) if graded else None
    return {"overall": overall, "targets": entries}

"""Latency trend across stored runs, as inline SVG geometry (no JavaScript, no CDN)."""

from __future__ import annotations

import math
from typing import Any

from django_dbopt.benchmark.models import BenchmarkRun

WIDTH = 640
HEIGHT = 200
MARGIN = 30
COLORS = ("#417690", "#ba2121", "#5b8a3c", "#a66f00", "#6c4f9c", "#2b7a78", "#7a2b55")


def _y(ms: float, low: float, high: float) -> float:
    """Log scale: latencies span orders of magnitude."""
    span = math.log10(high) - math.log10(low) or 1.0
    frac = (math.log10(ms) - math.log10(low)) / span
    return round(HEIGHT - MARGIN - frac * (HEIGHT - 2 * MARGIN), 2)


def trend_chart(runs: list[BenchmarkRun], quantile: str = "p99") -> dict[str, Any] | None:
    """One line per workload: its ``quantile`` latency in each run, oldest first."""
    runs = sorted(runs, key=lambda r: (r.created_at, r.pk))
    series: dict[str, list[tuple[int, float]]] = {}
    for index, run in enumerate(runs):
        for w in run.report.get("workloads", []):
            value = (w.get("latency_ms") or {}).get(quantile)
            if value:
                series.setdefault(w["name"], []).append((index, float(value)))
    values = [v for points in series.values() for _, v in points]
    if not values:
        return None
    low, high = min(values) * 0.9, max(values) * 1.1
    step = (WIDTH - 2 * MARGIN) / max(len(runs) - 1, 1)
    lines = []
    for number, (name, points) in enumerate(sorted(series.items())):
        coords = [(round(MARGIN + i * step, 2), _y(v, low, high)) for i, v in points]
        lines.append(
            {
                "name": name,
                "color": COLORS[number % len(COLORS)],
                "points": " ".join(f"{x},{y}" for x, y in coords),
                "dots": [
                    {"x": x, "y": y, "title": f"{name} run #{runs[i].pk}: {v:.3f} ms"}
                    for (x, y), (i, v) in zip(coords, points, strict=True)
                ],
                "legend_y": 14 + 12 * number,
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "quantile": quantile.upper(),
        "lines": lines,
        "axis_y": HEIGHT - MARGIN,
        "low": f"{low:.3g} ms",
        "high": f"{high:.3g} ms",
        "first": f"#{runs[0].pk}",
        "last": f"#{runs[-1].pk}",
    }

"""A latency histogram drawn as inline SVG geometry (no JavaScript, no CDN)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_dbopt.monitor import histogram

WIDTH = 640
HEIGHT = 160
MARGIN = 24


def _label(ns: float) -> str:
    ms = ns / 1e6
    return f"{ms:.3g} ms" if ms >= 0.01 else f"{ns / 1e3:.3g} µs"


def histogram_chart(hist: Mapping[int, int]) -> dict[str, Any] | None:
    """Bars per occupied bucket on a log-time axis, plus P50/P95/P99 markers."""
    if not hist:
        return None
    first, last = min(hist), max(hist)
    span = max(last - first + 1, 1)
    step = (WIDTH - 2 * MARGIN) / span
    tallest = max(hist.values())
    bars = []
    for index in sorted(hist):
        low, high = histogram.bucket_bounds(index)
        height = (HEIGHT - 2 * MARGIN) * hist[index] / tallest
        bars.append(
            {
                "x": round(MARGIN + (index - first) * step, 2),
                "y": round(HEIGHT - MARGIN - height, 2),
                "w": round(max(step - 1, 1), 2),
                "h": round(height, 2),
                "title": f"{_label(low)} to {_label(high)}: {hist[index]}",
            }
        )
    markers = []
    for name, q in (("P50", 0.5), ("P95", 0.95), ("P99", 0.99)):
        value = histogram.percentile(hist, q)
        if value is None:
            continue
        x = MARGIN + (histogram.bucket_of(round(value)) - first + 0.5) * step
        # a label right of the middle is drawn leftwards from its line, so it stays inside
        right = x > WIDTH / 2
        markers.append(
            {
                "x": round(x, 2),
                "text_x": round(x - 3 if right else x + 3, 2),
                "anchor": "end" if right else "start",
                "name": name,
                "label": _label(value),
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "markers": markers,
        "axis_y": HEIGHT - MARGIN,
        "low": _label(histogram.bucket_bounds(first)[0]),
        "high": _label(histogram.bucket_bounds(last)[1]),
    }

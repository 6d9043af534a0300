"""Small charts drawn server-side as inline SVG (no JavaScript, no CDN: the admin works
offline). Every label is placed inside the drawing area, so nothing is clipped.

``line_chart`` draws one or more series over time; ``bar_chart`` draws labelled bars.
Both return markup safe to put in a template, or ``None`` when there is nothing measured
(the page then says "no data" instead of drawing zeros).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#417690", "#e0a030", "#ba2121", "#5b8c3a", "#7a4fa0")


@dataclass
class Series:
    name: str
    points: list[tuple[datetime.datetime, float | None]]  # None: no data in that slot
    color: str = ""


def _fmt(value: float, unit: str) -> str:
    if value >= 100:
        text = f"{value:.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def _frame(width: int, height: int, label: str) -> list[str]:
    return [
        f'<svg class="dbopt-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
    ]


def line_chart(
    series: Sequence[Series],
    unit: str,
    label: str,
    width: int = 520,
    height: int = 170,
    y_max: float | None = None,
    domain: tuple[datetime.datetime, datetime.datetime] | None = None,
) -> SafeString | None:
    """``domain``: the time axis (default: from the first point to the last)."""
    values = [v for s in series for _, v in s.points if v is not None]
    times = [t for s in series for t, _ in s.points]
    if not values or not times:
        return None
    left, right, top, bottom = 52, 10, 18, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    start, end = domain or (min(times), max(times))
    span = max((end - start).total_seconds(), 1.0)
    high = y_max if y_max is not None else max(values) * 1.1 or 1.0

    def x_of(at: datetime.datetime) -> float:
        return round(left + plot_w * (at - start).total_seconds() / span, 1)

    def y_of(value: float) -> float:
        return round(top + plot_h * (1 - min(value, high) / high), 1)

    out = _frame(width, height, label)
    for fraction in (0.0, 0.5, 1.0):
        y = y_of(high * fraction)
        out.append(f'<line x1="{left}" y1="{y}" x2="{width - right}" y2="{y}" stroke="#ddd"/>')
        out.append(
            f'<text x="{left - 4}" y="{y + 3}" font-size="10" text-anchor="end" '
            f'fill="#666">{escape(_fmt(high * fraction, unit))}</text>'
        )
    shape = "%H:%M" if span <= 20 * 3600 else "%m-%d %H:%M"
    out.append(
        f'<text x="{left}" y="{height - 6}" font-size="10" fill="#666">'
        f"{start:{shape}}</text>"
        f'<text x="{width - right}" y="{height - 6}" font-size="10" fill="#666" '
        f'text-anchor="end">{end:{shape}}</text>'
    )
    legend_x = left + 4
    for number, item in enumerate(series):
        color = item.color or PALETTE[number % len(PALETTE)]
        out.extend(_polylines(item, color, x_of, y_of))
        out.append(
            f'<rect x="{legend_x}" y="4" width="10" height="6" fill="{color}"/>'
            f'<text x="{legend_x + 13}" y="11" font-size="10" fill="#333">'
            f"{escape(item.name)}</text>"
        )
        legend_x += 18 + 7 * len(item.name)
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped


def _polylines(item: Series, color: str, x_of: object, y_of: object) -> list[str]:
    """One polyline per run of slots with data (a gap stays a gap), dots on lone points."""
    runs: list[list[str]] = [[]]
    for at, value in item.points:
        if value is None:
            runs.append([])
        else:
            runs[-1].append(f"{x_of(at)},{y_of(value)}")  # type: ignore[operator]
    out = []
    for run in runs:
        if len(run) > 1:
            out.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                f'points="{" ".join(run)}"/>'
            )
        elif run:
            x, y = run[0].split(",")
            out.append(f'<circle cx="{x}" cy="{y}" r="2" fill="{color}"/>')
    return out


def bar_chart(
    bars: Sequence[tuple[str, float]],
    unit: str,
    label: str,
    width: int = 520,
    y_max: float | None = None,
) -> SafeString | None:
    """Horizontal bars, one per (name, value)."""
    if not bars:
        return None
    row, name_w = 18, 150
    height = row * len(bars) + 6
    high = y_max if y_max is not None else max(v for _, v in bars) or 1.0
    out = _frame(width, height, label)
    for number, (name, value) in enumerate(bars):
        y = 3 + number * row
        bar_w = round((width - name_w - 70) * min(value, high) / high, 1)
        out.append(
            f'<text x="{name_w - 4}" y="{y + 11}" font-size="10" text-anchor="end" '
            f'fill="#333">{escape(name[:28])}</text>'
            f'<rect x="{name_w}" y="{y}" width="{max(bar_w, 1)}" height="{row - 5}" '
            f'fill="{PALETTE[0]}"><title>{escape(name)}: {escape(_fmt(value, unit))}</title>'
            f'</rect><text x="{name_w + max(bar_w, 1) + 4}" y="{y + 11}" font-size="10" '
            f'fill="#333">{escape(_fmt(value, unit))}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped

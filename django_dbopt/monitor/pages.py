"""What the monitor's admin pages show, built from the store: the filtered, sorted, paged
queries table and a fingerprint's history. The views in ``admin.py`` only check access and
render."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.http import HttpRequest

from django_dbopt.monitor import listing, series
from django_dbopt.monitor.aggregates import Key, Stats
from django_dbopt.monitor.report import fingerprint_rows
from django_dbopt.monitor.sql_html import highlight_sql
from django_dbopt.ops.charts import Series, line_chart

#: characters of SQL shown in the table; the rest is on the fingerprint's page
SHORT = 220
PERIODS = ("5m", "15m", "1h", "6h", "24h", "7d", "14d")


def queries_context(request: HttpRequest, loaded: dict[Key, Stats] | None) -> dict[str, Any]:
    filters = listing.Filters.from_query(request.GET)
    views = sorted({view for _, view in loaded or {}})
    kept = {k: v for k, v in (loaded or {}).items() if filters.keeps_view(k[1])}
    rows = listing.apply(fingerprint_rows(kept) if kept else [], filters)
    hidden = len({fp for fp, _ in loaded or {}}) - len(rows)
    page = Paginator(rows, listing.PER_PAGE).get_page(request.GET.get("page"))
    for row in page.object_list:
        sql = row["sql"]
        row["sql_short"] = highlight_sql(sql if len(sql) <= SHORT else sql[:SHORT] + " …")
        row["sql_long"] = len(sql) > SHORT
    params = request.GET.copy()
    params.pop("page", None)
    return {
        "filters": filters,
        "headers": listing.headers(filters, request.GET),
        "page": page,
        "rows": list(page.object_list),
        "total_rows": len(rows),
        "hidden_rows": hidden,
        "views": views,
        "databases": list(connections),
        "periods": PERIODS,
        "page_query": params.urlencode(),
    }


def history_chart(fingerprint: str | None, since: datetime.datetime) -> dict[str, Any]:
    """P50/P95/P99 latency and throughput over the period, for one fingerprint or all."""
    slots = series.series(since, None if fingerprint is None else [fingerprint])
    latency = line_chart(
        [
            Series(name, [(s.middle, s.percentile_ms(q)) for s in slots])
            for name, q in (("P50", 0.5), ("P95", 0.95), ("P99", 0.99))
        ],
        unit="ms",
        label="latency over time",
        domain=series.domain(slots),
    )
    throughput = line_chart(
        [Series("queries/s", [(s.middle, s.per_second) for s in slots])],
        unit="/s",
        label="throughput over time",
        domain=series.domain(slots),
    )
    return {"latency_chart": latency, "throughput_chart": throughput}

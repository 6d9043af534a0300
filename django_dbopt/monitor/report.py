"""The monitor's report: what ``dbopt_report`` prints and the admin pages show.

``build_report`` returns plain JSON-able data; its schema (``SCHEMA``) is documented in
docs/monitor.md. Everything in it was measured or read from the database: sections with
nothing measured are empty lists, and a section that cannot be computed (EXPLAIN and
indexes on SQLite) carries ``"unavailable": reason`` instead of numbers.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.db import DatabaseError, connections
from django.utils import timezone

from django_dbopt.conf import get_config
from django_dbopt.exceptions import NotSupported, UnsafeQuery
from django_dbopt.monitor import advice, histogram, indexes, plans
from django_dbopt.monitor.aggregates import Key, Stats
from django_dbopt.monitor.scope import suppressed
from django_dbopt.monitor.store import get_store, merge_by

SCHEMA = "django-dbopt/monitor-report/1"
_SPAN = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str) -> datetime.datetime:
    """``30m``, ``6h``, ``7d`` (ago) or an ISO 8601 date/time; ``ValueError`` otherwise."""
    match = _SPAN.match(value.strip())
    if match:
        amount, unit = match.groups()
        return timezone.now() - datetime.timedelta(**{_UNITS[unit]: int(amount)})
    parsed = datetime.datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def stats_row(stats: Stats) -> dict[str, Any]:
    pcts = histogram.percentiles_ms(stats.hist)
    return {
        "fingerprint": stats.fingerprint.id,
        "sql": stats.fingerprint.sql,
        "alias": stats.alias,
        "calls": stats.calls,
        "total_ms": round(stats.total_ns / 1e6, 3),
        "mean_ms": round(stats.total_ns / 1e6 / stats.calls, 3) if stats.calls else None,
        "min_ms": round(stats.min_ns / 1e6, 3),
        "max_ms": round(stats.max_ns / 1e6, 3),
        "p50_ms": _round(_clamp(pcts["p50"], stats)),
        "p95_ms": _round(_clamp(pcts["p95"], stats)),
        "p99_ms": _round(_clamp(pcts["p99"], stats)),
        "slow": stats.slow,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _clamp(value: float | None, stats: Stats) -> float | None:
    """A bucket midpoint can fall outside the exact min/max; the true value cannot."""
    if value is None:
        return None
    return min(max(value, stats.min_ns / 1e6), stats.max_ns / 1e6)


def fingerprint_rows(loaded: dict[Key, Stats]) -> list[dict[str, Any]]:
    per_fp = merge_by(loaded.items(), by_view=False)
    views: dict[str, list[str]] = {}
    for fp, view in loaded:
        views.setdefault(fp, []).append(view)
    rows = [{**stats_row(s), "views": sorted(views[fp])} for fp, s in per_fp.items()]
    return sorted(rows, key=lambda r: -r["total_ms"])


def view_rows(loaded: dict[Key, Stats]) -> list[dict[str, Any]]:
    rows = []
    for view, stats in merge_by(loaded.items(), by_view=True).items():
        row = stats_row(stats)
        rows.append({"view": view, **{k: row[k] for k in ("calls", "total_ms", "p95_ms", "slow")}})
    return sorted(rows, key=lambda r: -r["total_ms"])


def check_view(view: str, since: datetime.datetime | None) -> None:
    """``ValueError`` naming the known views when the store has no data for ``view``."""
    known = sorted({v for _, v in get_store().load(since)})
    if view not in known:
        listed = ", ".join(known[:50]) + (
            f" (and {len(known) - 50} more)" if len(known) > 50 else ""
        )
        raise ValueError(
            f"--view {view!r}: no data for this view"
            + (f" since {since.isoformat()}" if since else "")
            + f". Known views: {listed or 'none recorded'}"
        )


def build_report(
    since: datetime.datetime | None = None,
    view: str | None = None,
    using: str = "default",
    limit: int = 20,
    explain_top: int = 0,
    with_advice: bool = True,
) -> dict[str, Any]:
    token = suppressed.set(True)
    try:
        return _build(since, view, using, limit, explain_top, with_advice)
    finally:
        suppressed.reset(token)


def _build(
    since: datetime.datetime | None,
    view: str | None,
    using: str,
    limit: int,
    explain_top: int,
    with_advice: bool,
) -> dict[str, Any]:
    store = get_store()
    loaded = store.load(since, view)
    fingerprints = fingerprint_rows(loaded)
    top = fingerprints[:limit]
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": timezone.now().isoformat(),
        "since": since.isoformat() if since else None,
        "view": view,
        "database": using,
        "histogram_relative_error": histogram.RELATIVE_ERROR,
        "store": {
            "kind": "redis" if get_config().monitor.store_cache else "database",
            **store.processes(since),
        },
        "fingerprints": top,
        "top": {
            "by_total_ms": [r["fingerprint"] for r in top],
            "by_p95_ms": [
                r["fingerprint"]
                for r in sorted(fingerprints, key=lambda r: -(r["p95_ms"] or 0))[:limit]
            ],
            "by_calls": [
                r["fingerprint"] for r in sorted(fingerprints, key=lambda r: -r["calls"])[:limit]
            ],
        },
        "views": view_rows(loaded)[:limit],
        "slow_queries": store.slow_queries(since, view, limit),
        "nplusone": store.findings(since, view)[:limit],
    }
    rows = {r["fingerprint"]: r for r in fingerprints}
    for sample in report["slow_queries"]:
        sample.setdefault("sql", rows.get(sample["fingerprint"], {}).get("sql"))
    postgres = connections[using].vendor == "postgresql"
    reason = f"needs PostgreSQL; {using!r} is {connections[using].vendor}"
    if explain_top and postgres:
        report["plans"] = plans.explain_top(explain_top, since)
    elif explain_top:
        report["plans"] = {"unavailable": reason}
    if with_advice and postgres:
        report["index_advice"] = [a.as_dict() for a in advice.advise(since, view, limit)]
        report["indexes"] = {
            "unused": indexes.unused_indexes(using),
            "duplicate": indexes.duplicate_indexes(using),
        }
    elif with_advice:
        report["index_advice"] = {"unavailable": reason}
        report["indexes"] = {"unavailable": reason}
    return report


def plan_of(fingerprint: str, sql: str, using: str, refresh: bool) -> dict[str, Any]:
    """For the admin's detail page: the plan, or why there is none."""
    try:
        return plans.plan_for(fingerprint, sql, using, refresh=refresh)
    except (UnsafeQuery, NotSupported, DatabaseError) as e:
        return {"error": str(e)}

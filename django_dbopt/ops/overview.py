"""The overview page: each part's state and trend on one screen, each tile linking to its
page. Everything shown was measured: a part with nothing measured says "no data".

- queries: latency P50/P95/P99 and throughput over the period (the monitor's stored
  buckets; application queries only), the top regressions (mean time in the second half
  of the period against the first), N+1 findings;
- cache: hit ratio per tier (counters of the running processes: not stored over time);
- replicas: lag and rotation per replica, read routing shares;
- pools: connections in use of max, peak, waiting (this process);
- alerts: firing now and recently resolved;
- backups: the newest backup and verification age per database against the limit;
- benchmark: the latest stored runs with their grade and regressions.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.utils import timezone

from django_dbopt.conf import get_config
from django_dbopt.monitor import listing, series
from django_dbopt.monitor.flush import flush_now, store_errors
from django_dbopt.monitor.report import fingerprint_rows
from django_dbopt.monitor.scope import suppressed
from django_dbopt.monitor.store import get_store
from django_dbopt.ops.charts import Series, bar_chart, line_chart

logger = logging.getLogger("django_dbopt.ops")

#: a fingerprint is a regression when its mean grew by this factor between the halves
REGRESSION_FACTOR = 1.2
REGRESSION_MIN_CALLS = 5


def _errors() -> tuple[type[BaseException], ...]:
    from django_dbopt.exceptions import ServiceUnavailable

    return (*store_errors(), ServiceUnavailable)


def queries_tile(since: datetime.datetime) -> dict[str, Any]:
    token = suppressed.set(True)
    try:
        flush_now()
        loaded = get_store().load(since)
        filters = listing.Filters()
        kept = {k: v for k, v in loaded.items() if filters.keeps_view(k[1])}
        rows = listing.apply(fingerprint_rows(kept) if kept else [], filters)
        allowed = {r["fingerprint"] for r in rows}
        slots = series.series(since, allowed, keep_view=filters.keeps_view)
        findings = get_store().findings(since)
    except _errors() as e:
        return {"error": str(e)}
    finally:
        suppressed.reset(token)
    calls = sum(r["calls"] for r in rows)
    total = sum(r["total_ms"] for r in rows)
    return {
        "calls": calls,
        "mean_ms": total / calls if calls else None,
        "fingerprints": len(rows),
        "latency_chart": line_chart(
            [
                Series(name, [(s.middle, s.percentile_ms(q)) for s in slots])
                for name, q in (("P50", 0.5), ("P95", 0.95), ("P99", 0.99))
            ],
            unit="ms",
            label="query latency over time",
            domain=series.domain(slots),
        ),
        "throughput_chart": line_chart(
            [Series("queries/s", [(s.middle, s.per_second) for s in slots])],
            unit="/s",
            label="query throughput over time",
            domain=series.domain(slots),
        ),
        "regressions": regressions(since, {r["fingerprint"]: r for r in rows}, slots),
        "nplusone": sorted(findings, key=lambda f: -float(f.get("total_ms") or 0))[:5],
        "nplusone_count": len(findings),
    }


def regressions(
    since: datetime.datetime, rows: dict[str, dict[str, Any]], slots: list[series.Slot]
) -> list[dict[str, Any]]:
    """Fingerprints whose mean time grew most between the halves of the period."""
    if not rows:
        return []
    middle = since + (timezone.now() - since) / 2
    halves: dict[str, list[float]] = {}  # fp -> [calls1, ms1, calls2, ms2]
    filters = listing.Filters()
    token = suppressed.set(True)
    try:
        for at, fp, view, n, ms, _hist in series.rows(since, rows):
            if not filters.keeps_view(view):
                continue
            acc = halves.setdefault(fp, [0.0, 0.0, 0.0, 0.0])
            offset = 2 if at >= middle else 0
            acc[offset] += n
            acc[offset + 1] += ms
    finally:
        suppressed.reset(token)
    out = []
    for fp, (c1, ms1, c2, ms2) in halves.items():
        if min(c1, c2) < REGRESSION_MIN_CALLS:
            continue
        before, after = ms1 / c1, ms2 / c2
        if before > 0 and after / before >= REGRESSION_FACTOR:
            out.append(
                {
                    "fingerprint": fp,
                    "sql": rows[fp]["sql"],
                    "before_ms": before,
                    "after_ms": after,
                    "factor": after / before,
                }
            )
    return sorted(out, key=lambda r: -r["factor"])[:5]


def cache_tile() -> dict[str, Any]:
    from django_dbopt.metrics import _cache_report

    report = _cache_report()
    if report is None:
        return {"unavailable": "no two-tier cache configured"}
    scope = report.get("all_processes") or report.get("process") or {}
    tiers = [
        (tier, float(row["hit_ratio"]) * 100)
        for tier, row in scope.get("tiers", {}).items()
        if row.get("hit_ratio") is not None
    ]
    return {
        "redis": report.get("redis"),
        "chart": bar_chart(tiers, unit="%", label="cache hit ratio per tier", y_max=100),
        "tiers": tiers,
    }


def replicas_tile() -> dict[str, Any]:
    from django_dbopt.conf import get_config
    from django_dbopt.routing.health import monitor
    from django_dbopt.routing.status import status

    if not get_config().routing.replicas:
        return {"unavailable": "no replicas configured (ROUTING.REPLICAS)"}
    monitor.ensure_started()  # probes run in the background thread, not here
    report = status()
    total = sum(report.counters.values())
    shares = [(reason, 100 * count / total) for reason, count in report.counters.items() if count]
    lags = [(r.alias, r.lag_s) for r in report.replicas if r.lag_s is not None]
    return {
        "replicas": report.replicas,
        "lag_chart": bar_chart(lags, unit="s", label="replica lag"),
        "share_chart": bar_chart(shares, unit="%", label="read routing shares", y_max=100)
        if total
        else None,
        "decisions": total,
    }


def pools_tile() -> dict[str, Any]:
    from django_dbopt.pool.stats import all_pool_stats

    pools = {a: s for a, s in all_pool_stats().items() if s and s.get("pool_max")}
    if not pools:
        return {"unavailable": "no pool opened in this process"}
    bars = [(alias, 100 * s["in_use"] / s["pool_max"]) for alias, s in pools.items()]
    return {
        "pools": pools,
        "chart": bar_chart(bars, unit="%", label="pool connections in use", y_max=100),
    }


def alerts_tile() -> dict[str, Any]:
    from django_dbopt.ops.models import Alert

    token = suppressed.set(True)
    try:
        firing = list(Alert.objects.filter(resolved_at__isnull=True)[:20])
        resolved = list(Alert.objects.filter(resolved_at__isnull=False)[:5])
    except DatabaseError as e:
        return {"error": str(e)}
    finally:
        suppressed.reset(token)
    return {"firing": firing, "resolved": resolved}


def backups_tile() -> dict[str, Any]:
    """Backup and verification age per database (the freshness report health uses)."""
    try:
        from django_dbopt.backup import freshness
    except ImportError as e:  # the crypto / compression extras are not installed
        return {"unavailable": f"backups need {e.name}, which is not installed"}
    if not freshness.in_use():
        return {"unavailable": "backups not configured (BACKUP.ENCRYPTION_KEYS)"}
    found = freshness.report()
    if found["error"]:
        return {"error": found["error"]}
    stale = {row["database"] for row in freshness.stale(found)}
    limit_h = get_config().backup.max_verified_age_h
    rows = [
        {
            **row,
            "stale": row["database"] in stale,
            "backup_age_h": _hours(row["last_backup_age_s"]),
            "verified_age_h": _hours(row["last_verified_age_s"]),
        }
        for row in found["databases"]
    ]
    return {"databases": rows, "limit_h": limit_h, "stale": sorted(stale)}


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def benchmark_tile() -> dict[str, Any]:
    """The latest stored ``dbopt_benchmark`` runs: grade and regressions against the last."""
    from django_dbopt.benchmark.models import BenchmarkRun

    token = suppressed.set(True)
    try:
        runs = list(
            BenchmarkRun.objects.only(
                "created_at", "label", "preset", "grade", "regressions", "duration_s"
            )[:5]
        )
    except DatabaseError as e:
        return {"error": str(e)}
    finally:
        suppressed.reset(token)
    if not runs:
        return {"unavailable": "no benchmark run stored yet (manage.py dbopt_benchmark)"}
    return {"runs": runs, "latest": runs[0]}


def build(since: datetime.datetime) -> dict[str, Any]:
    tiles: dict[str, Any] = {"queries": queries_tile(since), "alerts": alerts_tile()}
    parts = (
        ("cache", cache_tile),
        ("replicas", replicas_tile),
        ("pools", pools_tile),
        ("backups", backups_tile),
        ("benchmark", benchmark_tile),
    )
    for name, tile in parts:
        try:
            tiles[name] = tile()
        except (ImproperlyConfigured, DatabaseError, ImportError) as e:
            logger.warning("overview: %s tile unavailable: %s", name, e)
            tiles[name] = {"unavailable": str(e)}
    return tiles

"""What each built-in alert rule measures. Each function returns one ``Measurement`` per
subject (a replica, a pool, a cache tier, all queries), or none when nothing was
measured (no traffic, no pool, no replica): no data never fires or resolves an alert.

A custom rule's ``MEASURE`` is a function with the same shape:
``def backup_age_s() -> list[Measurement]``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from django_dbopt.conf import get_config


@dataclass(frozen=True)
class Measurement:
    subject: str  # what the value is about: "queries", a replica or pool alias, a tier
    value: float
    evidence: str  # names what to look at: the fingerprint, the replica, the pool
    url: str = ""  # the admin page showing it


def admin_url(name: str, *args: str) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # the admin is not in this project's URLconf
        return ""


def query_avg_ms() -> list[Measurement]:
    from django_dbopt.monitor import listing, series

    since = timezone.now() - datetime.timedelta(seconds=get_config().alerts.window_s)
    calls, total_ms = 0, 0.0
    per_fp: dict[str, float] = {}
    for _at, fp, view, n, ms, _hist in series.rows(since):
        if listing.is_own_view(view) or listing.is_command_view(view):
            continue
        calls += n
        total_ms += ms
        per_fp[fp] = per_fp.get(fp, 0.0) + ms
    if not calls:
        return []
    top = max(per_fp, key=lambda k: per_fp[k])
    return [
        Measurement(
            "queries",
            total_ms / calls,
            f"{calls} queries; most time in fingerprint {top} ({per_fp[top]:.1f} ms)",
            admin_url("admin:dbopt_monitor_detail", top),
        )
    ]


_previous: dict[str, tuple[int, int]] = {}


def cache_hit_ratio() -> list[Measurement]:
    from django_dbopt.metrics import _cache_report

    report = _cache_report()
    if report is None:
        return []
    scope = report.get("all_processes") or report.get("process") or {}
    out = []
    for tier, row in scope.get("tiers", {}).items():
        hits, misses = int(row.get("hits", 0)), int(row.get("misses", 0))
        before_hits, before_misses = _previous.get(tier, (0, 0))
        _previous[tier] = (hits, misses)
        if hits < before_hits or misses < before_misses:  # counters restarted
            before_hits = before_misses = 0
        new_hits, new_misses = hits - before_hits, misses - before_misses
        if new_hits + new_misses == 0:
            continue
        out.append(
            Measurement(
                tier,
                new_hits / (new_hits + new_misses),
                f"{tier}: {new_hits} hits, {new_misses} misses since the last evaluation",
                admin_url("admin:django_dbopt_cachestats_changelist"),
            )
        )
    return out


def pool_utilization() -> list[Measurement]:
    from django_dbopt.pool.stats import all_pool_stats

    out = []
    for alias, stats in all_pool_stats().items():
        if not stats or not stats.get("pool_max"):
            continue
        out.append(
            Measurement(
                alias,
                stats["in_use"] / stats["pool_max"],
                f"pool {alias}: {stats['in_use']} of {stats['pool_max']} connections in use, "
                f"{stats.get('requests_waiting', 0)} waiting",
                admin_url("admin:django_dbopt_connectionpool_changelist"),
            )
        )
    return out


def replica_lag_s() -> list[Measurement]:
    from django_dbopt.health import check_database
    from django_dbopt.topology import replica_map

    out = []
    for primary, replicas in replica_map().items():
        for alias in replicas:
            check = check_database(alias)
            if check["lag_s"] is None:
                continue  # unreachable or not a standby: the readiness check reports it
            out.append(
                Measurement(
                    alias,
                    float(check["lag_s"]),
                    f"replica {alias} of {primary}: replay {check['lag_s']:.1f} s behind, "
                    f"{check['lag_bytes'] or 0} WAL bytes not replayed",
                    admin_url("admin:django_dbopt_replicastatuspage_changelist"),
                )
            )
    return out

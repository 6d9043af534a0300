"""Prometheus families of the backups, read at scrape time (``django_dbopt.metrics``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def backup_families() -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    try:
        from django_dbopt.backup import freshness
    except ImportError:  # the crypto / compression extras are not installed: no backups
        return
    found = freshness.health()
    if found is None:
        return
    last = GaugeMetricFamily(
        "dbopt_backup_last_age_seconds",
        "Age of the newest full logical backup (only databases that have one).",
        labels=["database"],
    )
    verified = GaugeMetricFamily(
        "dbopt_backup_last_verified_age_seconds",
        "Age of the newest verified full logical backup (only databases that have one).",
        labels=["database"],
    )
    for row in found["databases"]:
        if row["last_backup_age_s"] is not None:
            last.add_metric([row["database"]], row["last_backup_age_s"])
        if row["last_verified_age_s"] is not None:
            verified.add_metric([row["database"]], row["last_verified_age_s"])
    yield from (last, verified)
    archive = found.get("wal_archive")
    if archive:
        lag = GaugeMetricFamily(
            "dbopt_wal_archive_lag_seconds",
            "Seconds since the last WAL segment was archived, when WAL is waiting.",
            labels=["database"],
        )
        for row in archive:
            if row.get("lag_s") is not None:
                lag.add_metric([row["database"]], row["lag_s"])
        yield lag

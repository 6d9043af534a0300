"""The scheduled jobs behind the Celery tasks (``tasks.py``), plain functions tested
without a broker: back up, verify the newest backups (optionally by test-restore),
prune, and check freshness and WAL archive lag (alerts)."""

from __future__ import annotations

import logging
from typing import Any

from django_dbopt import signals
from django_dbopt.backup import freshness, notify
from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt.backup")


def backup(database: str = "default") -> str:
    """A scheduled backup; returns its id (raises ``BackupError``: the task fails)."""
    from django_dbopt.backup.create import create_backup

    backup_id = create_backup(database, reason="schedule").backup_id
    freshness.clear()
    return backup_id


def verify_latest(restore_test: bool = False) -> dict[str, bool]:
    """Verify the newest backup of each database; ``{backup_id: ok}``."""
    from django_dbopt.backup.catalog import list_backups
    from django_dbopt.backup.verify import verify_backup

    newest: dict[str, str] = {}
    for entry in list_backups():
        if not entry.manifest.partial:
            newest[entry.manifest.database] = entry.backup_id
    results = {i: verify_backup(i, restore_test=restore_test).ok for i in newest.values()}
    freshness.clear()
    return results


def prune() -> list[str]:
    """Apply the retention policy; the ids deleted."""
    from django_dbopt.backup.retention import prune as apply

    return [d.item.backup_id for d in apply() if not d.keep]


def check() -> list[dict[str, Any]]:
    """Send ``backup_alert`` (and log an error) for each limit crossed; return the alerts."""
    alerts: list[dict[str, Any]] = []
    limit = get_config().backup.max_verified_age_h * 3600
    found = freshness.report(max_cache_s=0)
    for row in freshness.stale(found):
        age = row["last_verified_age_s"]
        kind = "no_verified_backup" if age is None else "backup_too_old"
        message = (
            f"{row['database']!r} has no verified backup"
            if age is None
            else f"{row['database']!r}: the newest verified backup is {age / 3600:.1f} h old "
            f"(limit {limit / 3600:.1f} h)"
        )
        alerts.append({"kind": kind, "database": row["database"], "age_s": age,
                       "limit_s": limit, "message": message})  # fmt: skip
    if get_config().backup.pgbackrest_stanza:
        from django_dbopt.backup.physical import archive_alerts

        alerts.extend(archive_alerts())
    for alert in alerts:
        logger.error("backup alert: %s", alert["message"])
        notify.send(signals.backup_alert, **alert)
    return alerts

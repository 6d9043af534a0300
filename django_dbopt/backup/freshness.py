"""How old the newest verified backup of each database is, for health, metrics, alerts.

Listing storages (S3 especially) is not free, so the answer is kept for ``CACHE_S`` in
this process. A storage that cannot be read is reported, never raised: health and
metrics degrade, they do not fail.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django_dbopt.backup.errors import BackupError
from django_dbopt.backup.manifest import parse_time, utcnow
from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt.backup")

CACHE_S = 60.0
_lock = threading.Lock()
_cache: dict[str, Any] = {}


def in_use() -> bool:
    """Backups are configured (a key, or a pgBackRest stanza): only then are they reported."""
    config = get_config().backup
    return bool(config.encryption_keys or config.pgbackrest_stanza)


def _measure() -> dict[str, Any]:
    from django_dbopt.backup.catalog import list_backups

    newest: dict[str, dict[str, Any]] = {
        alias: {"database": alias, "last_backup_age_s": None, "last_verified_age_s": None}
        for alias in get_config().backup.databases
    }
    now = utcnow()
    for entry in list_backups():
        if entry.manifest.partial or not entry.manifest.finished_at:
            continue
        row = newest.setdefault(
            entry.manifest.database,
            {"database": entry.manifest.database, "last_backup_age_s": None,
             "last_verified_age_s": None},
        )  # fmt: skip
        age = (now - parse_time(entry.manifest.finished_at)).total_seconds()
        row["last_backup_age_s"] = round(age, 1)
        if entry.verified:
            row["last_verified_age_s"] = round(age, 1)
    return {"databases": list(newest.values()), "error": None}


def report(max_cache_s: float = CACHE_S) -> dict[str, Any]:
    """``{"databases": [{database, last_backup_age_s, last_verified_age_s}], "error"}``;
    ages in seconds, ``None`` when there is no such backup."""
    with _lock:
        if _cache and time.monotonic() - _cache["at"] < max_cache_s:
            return dict(_cache["report"])
    try:
        found = _measure()
    except (BackupError, OSError) as e:
        logger.warning("backup freshness unknown: %s", e)
        found = {"databases": [], "error": f"{type(e).__name__}: {e}"}
    with _lock:
        _cache.update(at=time.monotonic(), report=found)
    return dict(found)


def stale(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The databases whose newest verified backup is missing or older than the limit."""
    limit = get_config().backup.max_verified_age_h * 3600
    return [
        row
        for row in found["databases"]
        if row["last_verified_age_s"] is None or row["last_verified_age_s"] > limit
    ]


def clear() -> None:
    with _lock:
        _cache.clear()


def health() -> dict[str, Any] | None:
    """The backups' part of the readiness answer (``None``: backups not configured)."""
    if not in_use():
        return None
    found = report()
    found["stale"] = [row["database"] for row in stale(found)]
    found["max_verified_age_s"] = get_config().backup.max_verified_age_h * 3600
    if get_config().backup.pgbackrest_stanza:
        from django_dbopt.backup.physical import archive_status

        status = archive_status()
        found["wal_archive"] = [status]
        lag = status["lag_s"]
        found["wal_archive_lagging"] = lag is None or lag > get_config().backup.rpo_s
    return found


def degrades(found: dict[str, Any] | None) -> bool:
    """Readiness turns ``"degraded"`` (``READINESS_DEGRADE``) when a backup is stale."""
    if not (found and get_config().backup.readiness_degrade):
        return False
    return bool(found["stale"] or found.get("wal_archive_lagging"))

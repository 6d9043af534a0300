"""Physical backups, WAL archiving and point-in-time recovery through pgBackRest.

pgBackRest does the work; this module writes its configuration, runs it and reads what
it says: ``pgbackrest verify`` exits 0 on a corrupt backup, so its report is parsed.
The WAL archive lag comes from ``pg_stat_archiver`` and ``pg_ls_archive_statusdir()``
(how long the oldest segment has been waiting to be archived).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import psycopg

from django_dbopt import signals
from django_dbopt.backup import notify, pgbackrest, postgres
from django_dbopt.backup.errors import BackupError, RestoreRefused
from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt.backup")

ARCHIVE_SQL = """
SELECT archived_count, last_archived_wal, last_archived_time, failed_count,
       last_failed_wal, last_failed_time, current_setting('archive_mode'),
       current_setting('archive_command'),
       (SELECT EXTRACT(EPOCH FROM now() - min(modification))
          FROM pg_ls_archive_statusdir() WHERE name LIKE '%%.ready')
FROM pg_stat_archiver
"""


def physical_backup(kind: str = "incr", database: str = "default") -> dict[str, Any]:
    """``pgbackrest backup --type=kind`` (the stanza is created first if needed)."""
    if kind not in ("full", "diff", "incr"):
        raise BackupError(f"unknown physical backup type {kind!r}: full, diff or incr")
    try:
        pgbackrest.write_config(database)
        pgbackrest.run("stanza-create", timeout=600)
        pgbackrest.run("backup", f"--type={kind}")
        newest = physical_backups(database)[-1]
    except BackupError as e:
        logger.error("physical %s backup of %r FAILED: %s", kind, database, e)
        notify.send(signals.backup_finished, backup_id=None, database=database,
                    kind="physical", ok=False, error=str(e), manifest=None)  # fmt: skip
        raise
    logger.info("physical %s backup %s of %r done", kind, newest["label"], database)
    notify.send(signals.backup_finished, backup_id=newest["label"], database=database,
                kind="physical", ok=True, error=None, manifest=None)  # fmt: skip
    return newest


def physical_backups(database: str = "default") -> list[dict[str, Any]]:
    """The stanza's backups, oldest first, from ``pgbackrest info --output=json``."""
    pgbackrest.write_config(database)
    found = []
    for stanza in pgbackrest.info():
        for b in stanza.get("backup", []):
            found.append(
                {
                    "label": b["label"],
                    "type": b["type"],
                    "start": b["timestamp"]["start"],
                    "stop": b["timestamp"]["stop"],
                    "archive_start": (b.get("archive") or {}).get("start"),
                    "archive_stop": (b.get("archive") or {}).get("stop"),
                    "size": (b.get("info") or {}).get("size"),
                    "repo_size": ((b.get("info") or {}).get("repository") or {}).get("size"),
                    "error": b.get("error", False),
                }
            )
    return found


def parse_verify(text: str) -> dict[str, Any]:
    """Read ``pgbackrest verify --output=text --verbose``: ``ok`` only if every stanza's
    status is ``ok``, every backup ``valid`` and every counter of bad files zero."""
    problems: list[str] = []
    statuses = 0
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("status:"):
            statuses += 1
            if line != "status: ok":
                problems.append(line)
        backup = re.match(r"backup: (\S+), status: (\w+)", line)
        if backup and backup[2] != "valid":
            problems.append(f"backup {backup[1]} is {backup[2]}")
        for name, count in re.findall(
            r"(missing|checksum invalid|size invalid|other): (\d+)", line
        ):
            if int(count):
                problems.append(f"{name}: {count}")
    if not statuses:
        problems.append("pgbackrest verify reported no status")
    return {"ok": not problems, "problems": problems, "report": text}


def verify_repository(database: str = "default") -> dict[str, Any]:
    pgbackrest.write_config(database)
    report = parse_verify(pgbackrest.run("verify", "--output=text", "--verbose").stdout)
    if not report["ok"]:
        logger.error("pgbackrest verify found problems: %s", "; ".join(report["problems"]))
    notify.send(signals.backup_verified, backup_id=None, database=database, ok=report["ok"],
                error="; ".join(report["problems"]) or None, restore_test=None)  # fmt: skip
    return report


def restore_to_time(target: str, data_dir: str, database: str = "default") -> dict[str, Any]:
    """``pgbackrest restore --type=time`` into a new, empty data directory."""
    folder = Path(data_dir)
    if folder.exists() and any(folder.iterdir()):
        raise RestoreRefused(f"{data_dir} is not empty: point-in-time restores go to a new one")
    live = pgbackrest.options(database)["pg1-path"]
    if folder.resolve() == Path(live).resolve():
        raise RestoreRefused("that is the live cluster's data directory")
    folder.mkdir(parents=True, exist_ok=True)
    user = get_config().backup.pgbackrest_os_user
    if user:
        import shutil

        shutil.chown(folder, user=user)
    folder.chmod(0o700)
    pgbackrest.write_config(database)
    pgbackrest.run(
        "restore", f"--pg1-path={folder}", "--type=time", f"--target={target}",
        "--target-action=promote",
    )  # fmt: skip
    logger.info("point-in-time restore to %s into %s done", target, folder)
    return {"target_time": target, "data_dir": str(folder)}


def archive_status(database: str | None = None) -> dict[str, Any]:
    """WAL archiving: counts, last archived / failed, and ``lag_s``: how long the oldest
    WAL segment has waited to be archived (0: none waiting)."""
    alias = database or get_config().backup.pgbackrest_database
    status: dict[str, Any] = {"database": alias, "lag_s": None, "error": None}
    try:
        with postgres.connect(alias) as conn:
            row = conn.execute(ARCHIVE_SQL).fetchone()
    except (BackupError, psycopg.Error) as e:
        status["error"] = f"{type(e).__name__}: {e}"
        return status
    assert row is not None
    status.update(
        archived_count=row[0], last_archived_wal=row[1],
        last_archived_time=row[2].isoformat() if row[2] else None, failed_count=row[3],
        last_failed_wal=row[4], last_failed_time=row[5].isoformat() if row[5] else None,
        archive_mode=row[6], archive_command=row[7],
        lag_s=round(float(row[8]), 1) if row[8] is not None else 0.0,
    )  # fmt: skip
    return status


def archive_command_problem(status: dict[str, Any]) -> str | None:
    """Why archiving does not feed the stanza, or ``None``."""
    name = pgbackrest.stanza()
    command = status.get("archive_command") or ""
    if status.get("archive_mode") not in ("on", "always"):
        return f"archive_mode is {status.get('archive_mode')!r}"
    if "pgbackrest" not in command or "archive-push" not in command:
        return f"archive_command {command!r} does not run pgbackrest archive-push"
    if f"--stanza={name}" not in command:
        return f"archive_command {command!r} does not name --stanza={name}"
    return None


def archive_alerts() -> list[dict[str, Any]]:
    """Alerts for WAL archiving: lag past ``RPO_S``, failing, or not pointed at the stanza."""
    status = archive_status()
    limit = get_config().backup.rpo_s
    alert = {"kind": "wal_archive_lag", "database": status["database"], "limit_s": limit,
             "age_s": status["lag_s"]}  # fmt: skip
    if status["error"]:
        return [{**alert, "message": f"WAL archive state unknown: {status['error']}"}]
    problem = archive_command_problem(status)
    if problem:
        return [{**alert, "message": f"WAL is not archived to pgBackRest: {problem}"}]
    if status["lag_s"] > limit:
        return [{**alert, "message": f"WAL archive lag {status['lag_s']:.0f} s exceeds the "
                 f"RPO of {limit:.0f} s (failed: {status['failed_count']})"}]  # fmt: skip
    return []

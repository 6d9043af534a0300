"""SQLite: a consistent copy through SQLite's backup API, and restores from one."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from django.db import connections

from django_dbopt.backup.errors import BackupError


def database_name(alias: str) -> str:
    return str(connections[alias].settings_dict["NAME"])


def copy_live(alias: str, target: Path) -> None:
    """Copy the alias's database into a new file, online, with SQLite's backup API (through
    Django's own connection, so an in-memory database works too)."""
    wrapper = connections[alias]
    wrapper.ensure_connection()
    try:
        with sqlite3.connect(target) as dst:
            wrapper.connection.backup(dst)
        dst.close()
    except sqlite3.Error as e:
        raise BackupError(f"SQLite backup of {alias!r} failed: {e}") from e


def copy_to(source: str, target: Path) -> None:
    """Copy the database file at ``source`` into a new file with the backup API."""
    try:
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        src.close()
        dst.close()
    except sqlite3.Error as e:
        raise BackupError(f"SQLite backup of {source} failed: {e}") from e


def row_counts(path: str | Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
        ]
        counts = [
            {"name": n, "rows": db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]}  # noqa: S608
            for n in names
        ]
    db.close()
    return counts


def check_file(path: Path) -> None:
    """Refuse what is not an intact SQLite database (``PRAGMA integrity_check``)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            result = db.execute("PRAGMA integrity_check").fetchone()
        db.close()
    except sqlite3.DatabaseError as e:
        raise BackupError(f"the restored file is not a SQLite database: {e}") from e
    if not result or result[0] != "ok":
        raise BackupError(f"the restored SQLite database fails its integrity check: {result}")


def replace_live(restored: Path, alias: str) -> None:
    """Copy the restored database over the alias's, through the backup API on Django's own
    connection (other SQLite connections see the old or the new content, never a mix)."""
    wrapper = connections[alias]
    wrapper.ensure_connection()
    try:
        with sqlite3.connect(restored) as src:
            src.backup(wrapper.connection)
        src.close()
    except sqlite3.Error as e:
        raise BackupError(f"replacing {alias!r} failed: {e}") from e

"""``restore_backup()``: into a new database by default, the live one only when asked.

Before anything is touched: the backup's engine must be the target's, its server major
version not newer, the space there, and the copy verified (decrypted into a temporary
file against the manifest's hashes). The dump is then restored into a new database
(``pg_restore -j``), its row counts compared with the manifest, and only with
``replace=True`` swapped in: the live database is renamed aside, not dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.db import connections
from psycopg import sql

from django_dbopt import signals
from django_dbopt.backup import notify, postgres, sqlite
from django_dbopt.backup.catalog import holders
from django_dbopt.backup.errors import BackupCorrupt, BackupError, RestoreRefused
from django_dbopt.backup.manifest import Manifest, utcnow
from django_dbopt.backup.pipeline import Progress
from django_dbopt.backup.storage import Storage
from django_dbopt.backup.verify import compare_counts, decrypted
from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt.backup")


@dataclass
class RestoreResult:
    backup_id: str
    database: str
    #: the database (PostgreSQL) or file (SQLite) restored into
    target: str
    replaced: bool
    #: the live database's new name (PostgreSQL ``replace``), kept until you drop it
    previous: str | None
    tables: int
    rows: int


def check_compatible(manifest: Manifest, database: str) -> None:
    vendor = connections[database].vendor
    if manifest.engine != vendor:
        raise RestoreRefused(
            f"backup {manifest.backup_id} is a {manifest.engine} dump; {database!r} is "
            f"{vendor}. A dump only restores into the engine it came from."
        )
    if vendor == "postgresql" and manifest.server_version_num:
        target = postgres.server_version_num(database)
        if manifest.server_version_num // 10000 > target // 10000:
            raise RestoreRefused(
                f"backup {manifest.backup_id} comes from PostgreSQL "
                f"{manifest.server_version}; {database!r} runs a older major version "
                f"({target // 10000}). Restore into PostgreSQL "
                f"{manifest.server_version_num // 10000} or newer."
            )


def restore_backup(
    backup_id: str,
    database: str = "default",
    target: str | None = None,
    replace: bool = False,
    storages: list[Storage] | None = None,
    progress: Progress | None = None,
) -> RestoreResult:
    try:
        result = _restore(backup_id, database, target, replace, storages, progress)
    except BackupError as e:
        logger.error("restore of %s into %r FAILED: %s", backup_id, database, e)
        notify.send(
            signals.backup_restored,
            backup_id=backup_id,
            database=database,
            target=target,
            ok=False,
            error=str(e),
        )
        raise
    logger.info("restored %s into %s (%d rows)", backup_id, result.target, result.rows)
    notify.send(
        signals.backup_restored,
        backup_id=backup_id,
        database=database,
        target=result.target,
        ok=True,
        error=None,
    )
    return result


def _restore(
    backup_id: str,
    database: str,
    target: str | None,
    replace: bool,
    storages: list[Storage] | None,
    progress: Progress | None,
) -> RestoreResult:
    copies = holders(backup_id, storages)
    manifest = copies[0][1]
    check_compatible(manifest, database)
    if manifest.partial and replace:
        raise RestoreRefused(
            f"backup {backup_id} holds only some tables; it cannot replace a whole database"
        )
    failures = []
    for storage, copy in copies:  # the first copy that proves intact is restored
        try:
            with decrypted(storage, copy, progress) as path:
                if copy.engine == "postgresql":
                    postgres.list_archive(str(path))
                    return _restore_postgres(copy, path, database, target, replace)
                return _restore_sqlite(copy, path, database, target, replace)
        except BackupCorrupt as e:
            logger.error("backup %s in %s failed verification: %s", backup_id, storage.name, e)
            failures.append(f"{storage.name}: {e}")
    raise RestoreRefused(
        f"backup {backup_id} failed verification, nothing restored: {'; '.join(failures)}"
    )


def _stamp() -> str:
    return f"{utcnow():%Y%m%d%H%M%S}"


def _restore_postgres(
    manifest: Manifest, path: Path, database: str, target: str | None, replace: bool
) -> RestoreResult:
    live = str(connections[database].settings_dict["NAME"])
    name = target or f"{live}_restored_{_stamp()}"[:63]
    if name == live:
        raise RestoreRefused("the target is the live database; use replace=True (--replace)")
    if postgres.database_exists(database, name):
        raise RestoreRefused(f"database {name!r} exists already; choose another target")
    _check_server_space(database, manifest)
    postgres.create_database(database, name)
    try:
        postgres.pg_restore(database, str(path), name, get_config().backup.restore_jobs)
        found = postgres.counts_in(database, name, list(manifest.row_counts()))
        mismatches = compare_counts(manifest.row_counts(), found)
        if mismatches:
            raise BackupError(f"restored row counts differ from the manifest: {mismatches}")
    except BaseException:
        postgres.drop_database(database, name)
        raise
    previous = _swap(database, live, name) if replace else None
    return RestoreResult(
        manifest.backup_id,
        database,
        live if replace else name,
        replace,
        previous,
        len(found),
        sum(v or 0 for v in found.values()),
    )


def _check_server_space(database: str, manifest: Manifest) -> None:
    """When the server's data directory is on this machine and readable, check its space."""
    with postgres.connect(database) as conn:
        try:
            row = conn.execute("SHOW data_directory").fetchone()
        except psycopg.Error:
            return  # not allowed to know: the server will say if it runs out
    folder = Path(str(row[0])) if row else None
    if folder is not None and folder.is_dir() and manifest.database_bytes:
        from django_dbopt.backup.verify import ensure_space

        ensure_space(folder, manifest.database_bytes, "the restored database")


def _swap(database: str, live: str, restored: str) -> str:
    """Rename the live database aside and the restored one in its place."""
    aside = f"{live}_replaced_{_stamp()}"[:63]
    connections[database].close()
    with postgres.connect(database, "postgres") as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [live],
        )
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(live), sql.Identifier(aside)
            )
        )
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(restored), sql.Identifier(live)
            )
        )
    return aside


def _restore_sqlite(
    manifest: Manifest, path: Path, database: str, target: str | None, replace: bool
) -> RestoreResult:
    sqlite.check_file(path)
    found = {t["name"]: t["rows"] for t in sqlite.row_counts(path)}
    mismatches = compare_counts(manifest.row_counts(), found)
    if mismatches:
        raise RestoreRefused(f"the backup's row counts differ from its manifest: {mismatches}")
    live = sqlite.database_name(database)
    if replace:
        sqlite.replace_live(path, database)
        destination = live
    else:
        if target is None and (live == ":memory:" or live.startswith("file:")):
            raise RestoreRefused(f"{database!r} is in memory: give a target file (--target)")
        destination = target or f"{live}.restored-{_stamp()}"
        if Path(destination).exists():
            raise RestoreRefused(f"{destination} exists already; choose another target")
        sqlite.copy_to(str(path), Path(destination))
    return RestoreResult(
        manifest.backup_id, database, destination, replace, None, len(found), sum(found.values())
    )

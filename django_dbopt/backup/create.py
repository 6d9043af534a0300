"""``create_backup()``: one logical backup of a database alias, to every storage."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from django.db import DatabaseError, connections
from django.db.migrations.recorder import MigrationRecorder

import django_dbopt
from django_dbopt import signals
from django_dbopt.backup import crypto, notify, postgres, sqlite
from django_dbopt.backup.errors import BackupError
from django_dbopt.backup.manifest import Manifest, utcnow
from django_dbopt.backup.pipeline import Progress, write_stream
from django_dbopt.backup.storage import DATA, MANIFEST, ObjectWriter, Storage, configured_storages
from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt.backup")


def new_backup_id(database: str) -> str:
    return f"{utcnow():%Y%m%dT%H%M%S%fZ}-{database}"


def applied_migrations(database: str) -> list[str]:
    try:
        recorder = MigrationRecorder(connections[database])
        if not recorder.has_table():
            return []
        return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())
    except DatabaseError as e:
        logger.warning("backup of %r: migration state unreadable: %s", database, e)
        return []


@contextlib.contextmanager
def _source(database: str, tables: list[str] | None, manifest: Manifest) -> Iterator[IO[bytes]]:
    vendor = connections[database].vendor
    if vendor == "postgresql":
        with postgres.dump(database, tables) as (stream, info):
            yield stream
        manifest.server_version = info.server_version
        manifest.server_version_num = info.server_version_num
        manifest.database_name = info.database_name
        manifest.database_bytes = info.database_bytes
        manifest.tables = info.tables
    elif vendor == "sqlite":
        import sqlite3 as sqlite3_module

        folder = get_config().backup.temp_dir
        with tempfile.TemporaryDirectory(prefix="dbopt-backup-", dir=folder) as scratch:
            copy = Path(scratch) / "copy.sqlite3"
            sqlite.copy_live(database, copy)
            manifest.server_version = sqlite3_module.sqlite_version
            manifest.database_name = sqlite.database_name(database)
            manifest.database_bytes = copy.stat().st_size
            manifest.tables = sqlite.row_counts(copy)
            with copy.open("rb") as stream:
                yield stream
    else:
        raise BackupError(f"{database!r} is {vendor}: backups support PostgreSQL and SQLite")


def create_backup(
    database: str = "default",
    tables: list[str] | None = None,
    reason: str = "manual",
    storages: list[Storage] | None = None,
    progress: Progress | None = None,
    verify: bool | None = None,
) -> Manifest:
    """Back up ``database`` (only ``tables`` when given) and return its manifest.

    The manifest is written last, to every storage, once all data is committed. On any
    failure nothing is published, ``backup_finished`` is sent with ``ok=False`` and the
    error is raised as ``BackupError``.
    """
    try:
        try:
            manifest = _create(database, tables, reason, storages, progress)
        except OSError as e:  # a full disk, a missing folder, a broken pipe
            raise BackupError(f"{type(e).__name__}: {e}") from e
    except BackupError as e:
        logger.error("backup of %r FAILED: %s", database, e)
        notify.send(
            signals.backup_finished,
            backup_id=None,
            database=database,
            kind="logical",
            ok=False,
            error=str(e),
            manifest=None,
        )
        raise
    logger.info(
        "backup %s of %r: %d bytes stored (%d plain), %d tables",
        manifest.backup_id,
        database,
        manifest.stored_bytes,
        manifest.plain_bytes,
        len(manifest.tables),
    )
    notify.send(
        signals.backup_finished,
        backup_id=manifest.backup_id,
        database=database,
        kind="logical",
        ok=True,
        error=None,
        manifest=manifest,
    )
    if verify if verify is not None else get_config().backup.verify_after_backup:
        from django_dbopt.backup.verify import verify_backup

        verify_backup(manifest.backup_id, storages=storages)
    return manifest


def _create(
    database: str,
    tables: list[str] | None,
    reason: str,
    storages: list[Storage] | None,
    progress: Progress | None,
) -> Manifest:
    config = get_config().backup
    targets = storages if storages is not None else configured_storages()
    key_id = crypto.current_key_id()
    crypto.master_key(key_id)  # fail before starting when the key is missing or malformed
    backup_id = new_backup_id(database)
    manifest = Manifest(
        backup_id=backup_id,
        database=database,
        database_name="",
        engine=connections[database].vendor,
        server_version="",
        server_version_num=None,
        key_id=key_id,
        started_at=utcnow().isoformat(),
        partial=tables is not None,
        migrations=applied_migrations(database),
        reason=reason,
        tool=f"django-dbopt {django_dbopt.__version__}",
    )
    writers: list[ObjectWriter] = [s.writer(backup_id, DATA) for s in targets]
    try:
        with _source(database, tables, manifest) as stream:
            digests = write_stream(
                stream,
                writers,
                backup_id,
                key_id,
                config.compression_level,
                config.chunk_bytes,
                progress,
            )
        for writer in writers:
            writer.commit()
    except BaseException:
        for writer in writers:
            with contextlib.suppress(BackupError, OSError):
                writer.abort()
        raise
    manifest.plain_bytes, manifest.plain_sha256 = digests.plain_bytes, digests.plain_sha256
    manifest.stored_bytes, manifest.stored_sha256 = digests.stored_bytes, digests.stored_sha256
    manifest.chunks = digests.chunks
    manifest.finished_at = utcnow().isoformat()
    for storage in targets:
        storage.put(backup_id, MANIFEST, manifest.to_json())
    return manifest

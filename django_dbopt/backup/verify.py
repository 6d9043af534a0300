"""``verify_backup()``: prove a backup restorable, copy by copy.

Each storage's copy is re-read, its chunks authenticated, decrypted and decompressed, its
sizes and SHA-256 compared with the manifest; a PostgreSQL archive is listed with
``pg_restore -l``; with ``restore_test`` it is restored into a scratch database (a
scratch file for SQLite) and the row count of every table compared with the manifest.
The result is written beside the manifest as ``verification.json``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django_dbopt import signals
from django_dbopt.backup import notify, postgres, sqlite
from django_dbopt.backup.catalog import holders
from django_dbopt.backup.container import Digests, read_plain
from django_dbopt.backup.errors import BackupCorrupt, BackupError, RestoreRefused
from django_dbopt.backup.manifest import Manifest, Verification, utcnow
from django_dbopt.backup.pipeline import Progress
from django_dbopt.backup.storage import DATA, VERIFICATION, Storage
from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt.backup")


def ensure_space(folder: str | Path, needed: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise RestoreRefused(
            f"not enough free space for {what} in {folder}: {needed} bytes needed, {free} free"
        )


@contextlib.contextmanager
def decrypted(
    storage: Storage, manifest: Manifest, progress: Progress | None = None
) -> Iterator[Path]:
    """The plain dump in a temporary file, proven intact against the manifest first."""
    folder = get_config().backup.temp_dir or tempfile.gettempdir()
    ensure_space(folder, int(manifest.plain_bytes * 1.05) + 1024 * 1024, "the decrypted dump")
    with tempfile.TemporaryDirectory(prefix="dbopt-restore-", dir=folder) as scratch:
        path = Path(scratch) / "dump"
        digests = Digests()
        with storage.reader(manifest.backup_id, DATA) as stream, path.open("wb") as out:
            for plain in read_plain(stream, digests, expect=manifest.digests()):
                out.write(plain)
                if progress is not None:
                    progress(digests.plain_bytes)
        yield path


def compare_counts(expected: dict[str, int], found: dict[str, int | None]) -> dict[str, Any]:
    return {
        name: {"manifest": rows, "restored": found.get(name)}
        for name, rows in expected.items()
        if found.get(name) != rows
    }


def restore_test(manifest: Manifest, path: Path, database: str) -> dict[str, Any]:
    """Restore the plain dump at ``path`` somewhere scratch and compare row counts."""
    expected = manifest.row_counts()
    if manifest.engine == "postgresql":
        scratch = f"dbopt_verify_{manifest.backup_id[:21].lower().replace('.', '_')}"
        postgres.drop_database(database, scratch)
        postgres.create_database(database, scratch)
        try:
            postgres.pg_restore(database, str(path), scratch, get_config().backup.restore_jobs)
            found = postgres.counts_in(database, scratch, list(expected))
        finally:
            postgres.drop_database(database, scratch)
    else:
        sqlite.check_file(path)
        found = {t["name"]: t["rows"] for t in sqlite.row_counts(path)}
    mismatches = compare_counts(expected, found)
    return {"ok": not mismatches, "tables": len(expected), "mismatches": mismatches}


def _verify_copy(
    storage: Storage, manifest: Manifest, test: bool, progress: Progress | None
) -> Verification:
    result = Verification(manifest.backup_id, ok=False, verified_at="")
    try:
        with decrypted(storage, manifest, progress) as path:
            if manifest.engine == "postgresql":
                result.archive_entries = postgres.list_archive(str(path))
            else:
                sqlite.check_file(path)
            if test:
                result.restore_test = restore_test(manifest, path, manifest.database)
                if not result.restore_test["ok"]:
                    raise BackupCorrupt(
                        "the test-restore's row counts differ from the manifest: "
                        f"{result.restore_test['mismatches']}"
                    )
        result.ok = True
    except (BackupError, OSError) as e:
        result.error = f"{type(e).__name__}: {e}"
    result.verified_at = utcnow().isoformat()
    return result


def verify_backup(
    backup_id: str,
    restore_test: bool = False,
    storages: list[Storage] | None = None,
    progress: Progress | None = None,
) -> Verification:
    """Verify every copy of ``backup_id``; the result is ``ok`` only if all are."""
    results = []
    copies = holders(backup_id, storages)
    for storage, manifest in copies:
        result = _verify_copy(storage, manifest, restore_test, progress)
        with contextlib.suppress(BackupError, OSError):
            storage.put(backup_id, VERIFICATION, result.to_json())
        results.append((storage, result))
    overall = results[0][1]
    failed = [(s, r) for s, r in results if not r.ok]
    if failed:
        overall = failed[0][1]
        overall.error = "; ".join(f"{s.name}: {r.error}" for s, r in failed)
    manifest = copies[0][1]
    log = logger.info if overall.ok else logger.error
    log("verify %s: %s", backup_id, "ok" if overall.ok else f"FAILED: {overall.error}")
    notify.send(
        signals.backup_verified,
        backup_id=backup_id,
        database=manifest.database,
        ok=overall.ok,
        error=overall.error,
        restore_test=overall.restore_test,
    )
    return overall

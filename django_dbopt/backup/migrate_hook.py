"""``dbopt_migrate --backup`` / ``--rollback-on-failure``.

``backup_before(record, steps)`` (the runner's ``before_apply`` step) backs up the
existing tables the plan's operations touch: a model operation's table; for ``RunSQL`` /
``RunPython``, whose tables cannot be known, every table of that migration's app (noted
in the run record). On SQLite the whole database is backed up.

``rollback(record)`` after a failed run, when every migration the run applied is
reversible: migrates each app back to where it was, then puts the backed-up tables' rows
back (PostgreSQL: restored into a scratch database, then in one transaction on the live
one, with deferred foreign keys, each table emptied and refilled with ``COPY``; SQLite: the
whole database restored over the live one).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management import call_command
from django.db import connections
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations import CreateModel, RunPython, RunSQL
from django.db.migrations.operations.base import Operation

from django_dbopt.backup.errors import BackupError
from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt.backup")


def _models_of(op: Operation) -> list[str] | None:
    """The model names an operation touches; ``None``: it cannot be known."""
    if isinstance(op, (RunSQL, RunPython)):
        return None
    if isinstance(op, CreateModel):
        return []  # a new table: nothing to back up
    for attribute in ("model_name_lower", "name_lower"):
        name = getattr(op, attribute, None)
        if isinstance(name, str):
            return [name]
    return None


def touched_tables(database: str, steps: list[Migration]) -> tuple[list[str], list[str]]:
    """The existing tables the plan touches, and notes on how they were found."""
    connection = connections[database]
    existing = set(connection.introspection.table_names())
    loader = MigrationExecutor(connection).loader
    tables: dict[str, None] = {}
    notes: list[str] = []
    for migration in steps:
        state = loader.project_state((migration.app_label, migration.name), at_end=False)
        for op in migration.operations:
            names = _models_of(op)
            if names is None:
                names = [m for app, m in state.models if app == migration.app_label]
                notes.append(
                    f"{migration.app_label}.{migration.name}: {type(op).__name__}'s tables "
                    f"cannot be known; backed up every table of {migration.app_label!r}"
                )
            for name in names:
                model = state.models.get((migration.app_label, name))
                if model is None:
                    continue
                table = model.options.get("db_table") or f"{migration.app_label}_{name}"
                if table in existing:
                    tables[table] = None
    return list(tables), notes


def backup_before(record: Any, steps: list[Migration]) -> None:
    """The runner's ``before_apply``: back up what the plan touches, name it in the record."""
    from django_dbopt.backup.create import create_backup

    database = record.database
    on_postgres = connections[database].vendor == "postgresql"
    tables, notes = touched_tables(database, steps)
    record.notes.extend(notes)
    if on_postgres and not tables:
        record.notes.append("backup: the plan touches no existing table; nothing backed up")
        return
    manifest = create_backup(database, tables=tables if on_postgres else None, reason="migrate")
    names = [t["name"] for t in manifest.tables]
    record.backup = {"backup_id": manifest.backup_id, "tables": names}
    record.notes.append(
        f"backup {manifest.backup_id} of {len(manifest.tables)} table(s) taken before the run"
    )


def backup_hook(requested: bool | None) -> Any:
    """``backup_before`` when ``--backup`` (or ``BACKUP.BEFORE_MIGRATE``) asks for it."""
    wanted = get_config().backup.before_migrate if requested is None else requested
    return backup_before if wanted else None


def _irreversible(migrations: list[Migration]) -> list[str]:
    return [
        f"{m.app_label}.{m.name}: {op.describe()}"
        for m in migrations
        for op in m.operations
        if not op.reversible
    ]


def rollback(record: Any) -> None:
    """Undo a failed run from its backup where reversible; says what it did in the record."""
    backup = getattr(record, "backup", None)
    if record.outcome != "failed" or not backup:
        return
    database = record.database
    connection = connections[database]
    loader = MigrationExecutor(connection).loader
    applied = [
        loader.get_migration(*s.migration.split(".", 1))
        for s in record.migrations
        if s.outcome == "applied"
    ]
    failed = [s for s in record.migrations if s.outcome == "failed"]
    result: dict[str, Any] = {"done": False, "unapplied": [], "restored_tables": []}
    record.rollback = result
    blockers = _irreversible(applied)
    if failed and not failed[0].atomic:
        blockers.append(f"{failed[0].migration} is not atomic: its partial changes stay")
    if blockers:
        result["error"] = "not reversible: " + "; ".join(blockers)
        record.notes.append(f"rollback not done: {result['error']}")
        return
    try:
        _unapply(database, applied, result)
        _restore(database, backup["backup_id"], result)
    except BackupError as e:
        result["error"] = str(e)
        record.notes.append(f"rollback FAILED: {e}")
        logger.error("dbopt_migrate rollback failed: %s", e)
        return
    result["done"] = True
    record.notes.append(
        f"rolled back: unapplied {', '.join(result['unapplied']) or 'nothing'}; restored "
        f"{len(result['restored_tables'])} table(s) from backup {backup['backup_id']}"
    )


def _unapply(database: str, applied: list[Migration], result: dict[str, Any]) -> None:
    targets: dict[str, str] = {}
    for migration in applied:  # the first migration applied per app decides the target
        if migration.app_label in targets:
            continue
        parents = [d for d in migration.dependencies if d[0] == migration.app_label]
        targets[migration.app_label] = parents[0][1] if parents else "zero"
    for app_label, target in reversed(list(targets.items())):
        call_command("migrate", app_label, target, database=database, verbosity=0)
    result["unapplied"] = [f"{m.app_label}.{m.name}" for m in applied]


def _restore(database: str, backup_id: str, result: dict[str, Any]) -> None:
    from django_dbopt.backup.catalog import holders
    from django_dbopt.backup.restore import restore_backup
    from django_dbopt.backup.verify import decrypted

    storage, manifest = holders(backup_id)[0]
    if manifest.engine != "postgresql":
        restore_backup(backup_id, database, replace=True)
        result["restored_tables"] = list(manifest.row_counts())
        return
    from django_dbopt.backup.table_copy import copy_back

    with decrypted(storage, manifest) as path:
        copy_back(database, manifest, str(path), get_config().backup.restore_jobs)
    result["restored_tables"] = list(manifest.row_counts())

"""Reconcile a non-atomic migration with the catalog before applying it.

A run that was killed or interrupted while a ``CREATE INDEX CONCURRENTLY`` ran leaves
either an INVALID index (the build was cancelled or failed) or a valid one (the server
finished the build after the client went away), and no row in ``django_migrations``:
``migrate`` would then fail on "relation already exists". Before a non-atomic migration
runs, each index it builds concurrently is looked up by the exact name it creates:

- INVALID and no session building it: dropped (``DROP INDEX CONCURRENTLY``), then the
  migration runs and builds it again;
- valid, on the table the migration names, and the migration does nothing but build
  such indexes: the migration is recorded as applied without running (a note says so);
- valid, but the migration does more: the step fails, naming the index, rather than
  guessing what else an interrupted run did.
"""

from __future__ import annotations

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation
from django.db.migrations.recorder import MigrationRecorder

from django_dbopt.exceptions import DbOptError
from django_dbopt.migration_lint import statements
from django_dbopt.migration_run import guard
from django_dbopt.migration_run.record import StepRecord


class ReconcileError(DbOptError):
    """The catalog holds part of what the migration does: not safe to run or skip."""


def _builds(loader: MigrationLoader, migration: Migration) -> tuple[list[tuple[str, str]], bool]:
    """``([(index, table)], only_builds)``: the indexes the migration builds
    concurrently, and whether that is all it does to the database."""
    state = loader.project_state((migration.app_label, migration.name), at_end=False)
    builds: list[tuple[str, str]] = []
    only = True
    operations: list[Operation] = list(migration.operations)
    while operations:
        operation = operations.pop(0)
        if isinstance(operation, migrations.SeparateDatabaseAndState):
            operations[:0] = operation.database_operations
            continue
        if isinstance(operation, AddIndexConcurrently):
            model = state.apps.get_model(migration.app_label, operation.model_name)
            builds.append((operation.index.name, model._meta.db_table))
        elif isinstance(operation, migrations.RunSQL):
            sql = operation.sql if isinstance(operation.sql, (list, tuple)) else [operation.sql]
            texts = [s if isinstance(s, str) else s[0] for s in sql]
            for action in statements.parse(texts):
                if action.kind == "create_index" and action.concurrent and action.detail:
                    builds.append((action.detail, action.table or ""))
                elif action.kind != "harmless":
                    only = False
        else:
            only = False
        operation.state_forwards(migration.app_label, state)
    return builds, only


def reconcile(
    connection: BaseDatabaseWrapper,
    loader: MigrationLoader,
    migration: Migration,
    step: StepRecord,
    cleanup_timeout_s: float,
) -> bool:
    """Make the catalog and the migration agree; ``True`` when the migration is now
    recorded as applied (nothing left to run)."""
    builds, only_builds = _builds(loader, migration)
    if not builds:
        return False
    states = guard.index_states(connection, [name for name, _ in builds])
    invalid = guard.droppable_invalid(connection, builds)
    if invalid:
        left = guard.drop_indexes(connection, invalid, cleanup_timeout_s)
        step.dropped_invalid_indexes.extend(n for n in invalid if n not in left)
        for name in invalid:
            step.notes.append(
                f"INVALID index {name} left by an earlier, interrupted build: "
                + ("could not be dropped" if name in left else "dropped, built again")
            )
        if left:
            raise ReconcileError(
                "INVALID index(es) left by an interrupted run could not be dropped: "
                + "; ".join(f"DROP INDEX CONCURRENTLY {name}" for name in left)
            )
    valid = [
        (name, table)
        for name, table in builds
        if name in states and states[name].valid and states[name].table == table
    ]
    building = [
        name
        for name, table in builds
        if name in states and states[name].table == table and states[name].in_progress
    ]
    if building:
        raise ReconcileError(
            f"index(es) {', '.join(building)} are being built by another session now; "
            "run again when that build ends."
        )
    if not valid:
        return False
    names = ", ".join(name for name, _ in valid)
    if only_builds and len(valid) == len(builds):
        MigrationRecorder(connection).record_applied(migration.app_label, migration.name)
        step.notes.append(
            f"index(es) {names} already exist and are valid (built by an earlier run that "
            "did not record the migration): recorded as applied without running"
        )
        return True
    raise ReconcileError(
        f"index(es) {names} already exist (valid), built by an earlier run that did not "
        "record this migration, which does more than build them: check what it did, then "
        f"run `migrate {migration.app_label} {migration.name} --fake` or drop the index(es)."
    )

"""``run()``: Django's ``migrate``, one migration at a time, guarded.

The plan is linted first (refused on errors unless forced). On PostgreSQL the run holds
an advisory lock, every statement runs under ``lock_timeout`` / ``statement_timeout``, a
migration whose statement hit the lock timeout is retried with backoff (Django rolled
an atomic one back; a non-atomic one only if none of its statements had completed), and
an INVALID index left by a failed ``CONCURRENTLY`` build is dropped before going on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from io import TextIOBase
from typing import Any

from django.core.management import call_command
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.executor import MigrationExecutor

from django_dbopt.conf import get_config
from django_dbopt.migration_lint import LintReport, SelectionError, Severity, lint
from django_dbopt.migration_run import guard
from django_dbopt.migration_run.record import RunRecord, StepRecord, write

Key = tuple[str, str]

#: SQLSTATE of ``lock_timeout`` (lock_not_available)
LOCK_NOT_AVAILABLE = "55P03"


def plan(
    database: str, app_label: str | None, migration_name: str | None
) -> tuple[list[Key], list[Migration]]:
    """The targets and the forwards plan ``migrate`` would run (backwards refused)."""
    executor = MigrationExecutor(connections[database])
    loader = executor.loader
    if app_label is None:
        targets = loader.graph.leaf_nodes()
    elif app_label not in loader.migrated_apps:
        raise SelectionError(f"App {app_label!r} does not have migrations (or is not installed).")
    elif migration_name is None:
        targets = [n for n in loader.graph.leaf_nodes() if n[0] == app_label]
    else:
        try:
            migration = loader.get_migration_by_prefix(app_label, migration_name)
        except (AmbiguityError, KeyError) as e:
            raise SelectionError(
                f"No single migration matches {migration_name!r} in app {app_label!r}."
            ) from e
        targets = [(migration.app_label, migration.name)]
    steps = executor.migration_plan(targets)
    if any(backwards for _, backwards in steps):
        raise SelectionError(
            "dbopt_migrate only applies migrations; unapply with Django's migrate."
        )
    return targets, [m for m, _ in steps]


def _lock_timeout(error: DatabaseError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE


class _Progress:
    """Counts statements that changed something, to know if a non-atomic migration is
    partly applied (then it is not retried)."""

    def __init__(self) -> None:
        self.done = 0

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        result = execute(sql, params, many, context)
        head = sql.lstrip()[:6].upper()
        if (
            not head.startswith(("SELECT", "SET", "SHOW", "RESET"))
            and "django_migrations" not in sql
        ):
            self.done += 1
        return result


def run(
    database: str = "default",
    app_label: str | None = None,
    migration_name: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    stdout: TextIOBase | None = None,
    verbosity: int = 1,
    on_lint: Callable[[LintReport], None] | None = None,
    before_apply: Callable[[RunRecord, list[Migration]], None] | None = None,
) -> RunRecord:
    """Lint, then apply the plan. The returned record is also written (``record.write``)."""
    connection = connections[database]
    targets, steps = plan(database, app_label, migration_name)
    record = RunRecord(database, connection.vendor, [f"{a}.{n}" for a, n in targets], force)
    record.migrations = [StepRecord(f"{m.app_label}.{m.name}", m.atomic) for m in steps]
    report = lint(database, targets=targets)
    record.lint = report.counts()
    record.findings = [
        {
            "rule": f.rule.id,
            "severity": f.severity.label,
            "migration": f.migration_label,
            "operation_index": f.operation_index,
            "table": f.table,
        }
        for f in report.findings
    ]
    if on_lint is not None:
        on_lint(report)
    if not steps:
        record.outcome = "nothing to do"
    elif dry_run:
        record.outcome = "planned"
    elif report.at_least(Severity.ERROR) and not force:
        record.outcome = "refused"
        record.error = "the lint found errors; fix them, ignore them, or pass --force"
    else:
        if before_apply is not None:  # e.g. the backup of the touched tables; raising stops
            before_apply(record, steps)
        _apply(connection, steps, record, stdout, verbosity)
    if not dry_run:
        write(record)
    return record


def _apply(
    connection: BaseDatabaseWrapper,
    steps: list[Migration],
    record: RunRecord,
    stdout: TextIOBase | None,
    verbosity: int,
) -> None:
    config = get_config().migrations
    on_postgres = connection.vendor == "postgresql"
    progress = _Progress()
    if not on_postgres:
        record.notes.append(
            f"{connection.alias!r} is {connection.vendor}: no advisory lock, timeouts or "
            "retries (PostgreSQL only)."
        )
        with connection.execute_wrapper(progress):
            _steps(connection, steps, record, stdout, verbosity, progress, retries=0)
        return
    try:
        with (
            guard.advisory_lock(connection),
            guard.session_timeouts(
                connection, config.lock_timeout_ms, config.statement_timeout_ms
            ),
            connection.execute_wrapper(progress),
        ):
            _steps(connection, steps, record, stdout, verbosity, progress, config.retries)
    except guard.MigrationLocked as e:
        record.outcome, record.error = "locked", str(e)


def _steps(
    connection: BaseDatabaseWrapper,
    steps: list[Migration],
    record: RunRecord,
    stdout: TextIOBase | None,
    verbosity: int,
    progress: _Progress,
    retries: int,
) -> None:
    config = get_config().migrations
    on_postgres = connection.vendor == "postgresql"
    for migration, step in zip(steps, record.migrations, strict=True):
        started = time.monotonic()
        while True:
            step.attempts += 1
            before = guard.invalid_indexes(connection) if on_postgres else {}
            progress.done = 0
            try:
                call_command(
                    "migrate",
                    migration.app_label,
                    migration.name,
                    database=connection.alias,
                    interactive=False,
                    verbosity=verbosity,
                    stdout=stdout,
                )
            except DatabaseError as e:
                error = str(e).strip()
                step.errors.append(error)
                partly_applied = not migration.atomic and progress.done > 0
                if on_postgres:
                    _drop_new_invalid(connection, before, step, config.cleanup_timeout_s)
                if not _lock_timeout(e) or step.attempts > retries or partly_applied:
                    step.outcome, step.duration_s = "failed", time.monotonic() - started
                    record.outcome = "failed"
                    record.error = f"{step.migration}: {error}" + (
                        " (partly applied: not retried)" if partly_applied else ""
                    )
                    if len(step.errors) > 1 and step.errors[-1] != error:
                        record.error += f" {step.errors[-1]}"
                    return
                time.sleep(config.retry_backoff_s * 2 ** (step.attempts - 1))
                continue
            step.outcome, step.duration_s = "applied", time.monotonic() - started
            break
    record.outcome = "applied"


def _drop_new_invalid(
    connection: BaseDatabaseWrapper, before: dict[int, str], step: StepRecord, timeout_s: float
) -> None:
    new = [name for oid, name in guard.invalid_indexes(connection).items() if oid not in before]
    if not new:
        return
    left = guard.drop_indexes(connection, new, timeout_s)
    step.dropped_invalid_indexes.extend(n for n in new if n not in left)
    if left:
        step.errors.append(
            "INVALID index(es) left after a failed CONCURRENTLY build, drop them by hand: "
            + "; ".join(f"DROP INDEX CONCURRENTLY {name}" for name in left)
        )

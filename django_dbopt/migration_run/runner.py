"""``run()``: Django's ``migrate``, one migration at a time, guarded.

On PostgreSQL the run refuses a standby, then takes the advisory lock *before* it plans,
so the plan it lints and applies is the one no other ``dbopt_migrate`` run can change
under it. The plan is linted (refused on errors unless forced), an optional
``before_apply`` step runs (e.g. a backup of the affected tables), then the migrations
are applied one by one (``apply.py``). SIGTERM / SIGINT stop the run cleanly and record
it as ``interrupted`` (``interrupt.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from io import TextIOBase

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.executor import MigrationExecutor

from django_dbopt.conf import get_config
from django_dbopt.migration_lint import LintReport, SelectionError, Severity, lint
from django_dbopt.migration_run import guard
from django_dbopt.migration_run.apply import Context, apply_steps
from django_dbopt.migration_run.interrupt import describe, interruptible
from django_dbopt.migration_run.record import RunRecord, StepRecord, write
from django_dbopt.migration_run.tracker import AttemptTracker

Key = tuple[str, str]

#: called with the record and the plan after the lint allowed the run, before the first
#: migration is applied (under the advisory lock on PostgreSQL); raising stops the run
BeforeApply = Callable[[RunRecord, list[Migration]], None]


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


def _planned(record: RunRecord, targets: list[Key], steps: list[Migration]) -> None:
    record.targets = [f"{a}.{n}" for a, n in targets]
    record.migrations = [StepRecord(f"{m.app_label}.{m.name}", m.atomic) for m in steps]


def run(
    database: str = "default",
    app_label: str | None = None,
    migration_name: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    stdout: TextIOBase | None = None,
    verbosity: int = 1,
    on_lint: Callable[[LintReport], None] | None = None,
    before_apply: BeforeApply | None = None,
) -> RunRecord:
    """Lock, plan, lint, then apply. The returned record is also written (``write``)."""
    connection = connections[database]
    on_postgres = connection.vendor == "postgresql"
    if on_postgres:
        try:
            guard.refuse_standby(connection)
        except guard.StandbyRefused as e:
            raise SelectionError(str(e)) from e
    record = RunRecord(database, connection.vendor, [], force)
    with interruptible():
        try:
            with ExitStack() as stack:
                if on_postgres and not dry_run:
                    try:
                        stack.enter_context(guard.advisory_lock(connection))
                    except guard.MigrationLocked as e:
                        _planned(record, *plan(database, app_label, migration_name))
                        record.outcome, record.error = "locked", str(e)
                        write(record)
                        return record
                targets, steps = plan(database, app_label, migration_name)
                _planned(record, targets, steps)
                report = lint(database, targets=targets)
                _linted(record, report)
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
                    if before_apply is not None:
                        before_apply(record, steps)
                    _apply(connection, steps, record, stdout, verbosity)
        except KeyboardInterrupt as e:  # while planning or linting: nothing applied
            record.outcome = "interrupted"
            record.error = f"interrupted by {describe(e)} before any migration was applied"
        if not dry_run:
            write(record)
    return record


def _linted(record: RunRecord, report: LintReport) -> None:
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


def _apply(
    connection: BaseDatabaseWrapper,
    steps: list[Migration],
    record: RunRecord,
    stdout: TextIOBase | None,
    verbosity: int,
) -> None:
    config = get_config().migrations
    tracker = AttemptTracker()
    if connection.vendor != "postgresql":
        record.notes.append(
            f"{connection.alias!r} is {connection.vendor}: no advisory lock, timeouts or "
            "retries (PostgreSQL only)."
        )
        with connection.execute_wrapper(tracker):
            apply_steps(
                Context(connection, config, tracker, None, stdout, verbosity), steps, record
            )
        return
    with (
        guard.session_timeouts(
            connection, config.lock_timeout_ms, config.statement_timeout_ms
        ) as timeouts,
        connection.execute_wrapper(tracker),
    ):
        context = Context(connection, config, tracker, timeouts, stdout, verbosity)
        apply_steps(context, steps, record)

"""Apply a plan's migrations one at a time, each with Django's ``migrate``.

Before each migration the plan is read again: a migration already applied (by a plain
``migrate`` meanwhile) is skipped, and a migration whose ``migrate app name`` would
unapply anything is refused; ``dbopt_migrate`` never goes backwards. On PostgreSQL a
non-atomic migration is first reconciled with the catalog (``reconcile.py``); each
attempt runs under a ``lock_timeout`` that starts short and doubles up to
``LOCK_TIMEOUT_MAX_MS``; a lock timeout is retried after a jittered, doubling backoff,
unless a statement of a non-atomic migration had already completed; the INVALID index
a failed ``CREATE INDEX CONCURRENTLY`` leaves (named by the failed statement, never
another session's build) is dropped.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from io import TextIOBase

from django.core.management import call_command
from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor

from django_dbopt.conf import MigrationSettings
from django_dbopt.migration_run import guard
from django_dbopt.migration_run.interrupt import describe
from django_dbopt.migration_run.reconcile import ReconcileError, reconcile
from django_dbopt.migration_run.record import RunRecord, StepRecord
from django_dbopt.migration_run.tracker import AttemptTracker, short

#: SQLSTATE of ``lock_timeout`` (lock_not_available)
LOCK_NOT_AVAILABLE = "55P03"


@dataclass
class Context:
    connection: BaseDatabaseWrapper
    config: MigrationSettings
    tracker: AttemptTracker
    #: ``None`` off PostgreSQL: no timeouts, retries, cleanup or reconciliation
    timeouts: guard.SessionTimeouts | None
    stdout: TextIOBase | None
    verbosity: int


def lock_timeout_ms(config: MigrationSettings, attempt: int) -> int:
    ceiling = max(config.lock_timeout_max_ms, config.lock_timeout_ms)
    return int(min(config.lock_timeout_ms * 2 ** (attempt - 1), ceiling))


def backoff_s(config: MigrationSettings, attempt: int) -> float:
    """The wait after failed attempt ``attempt``: doubling, capped, between half and all
    of it (jitter, so runs retrying on several databases do not line up)."""
    delay = min(config.retry_backoff_s * 2 ** (attempt - 1), config.retry_backoff_max_s)
    return random.uniform(delay / 2, delay)  # noqa: S311 - timing jitter, not security


def apply_steps(ctx: Context, steps: list[Migration], record: RunRecord) -> None:
    for migration, step in zip(steps, record.migrations, strict=True):
        started = time.monotonic()
        try:
            error = _step(ctx, migration, step)
        except KeyboardInterrupt as e:  # between statements: nothing half-done
            step.outcome = "interrupted"
            error = f"interrupted by {describe(e)}"
        step.duration_s = time.monotonic() - started
        record.worst_reader_wait_ms = max(record.worst_reader_wait_ms, step.reader_wait_ms)
        if error is not None:
            record.outcome = "interrupted" if step.outcome == "interrupted" else "failed"
            record.error = f"{step.migration}: {error}"
            return
    record.outcome = "applied"


def _step(ctx: Context, migration: Migration, step: StepRecord) -> str | None:
    """Apply one migration; the error when it failed or was interrupted."""
    key = (migration.app_label, migration.name)
    executor = MigrationExecutor(ctx.connection)
    if key in executor.loader.applied_migrations:
        step.outcome = "skipped"
        step.notes.append("already applied when its turn came (by another migrate): not run")
        return None
    backwards = [f"{m.app_label}.{m.name}" for m, back in executor.migration_plan([key]) if back]
    if backwards:
        step.outcome = "failed"
        return f"`migrate {key[0]} {key[1]}` would unapply {', '.join(backwards)}: refused"
    if ctx.timeouts is not None and not migration.atomic:
        try:
            done = reconcile(
                ctx.connection, executor.loader, migration, step, ctx.config.cleanup_timeout_s
            )
        except ReconcileError as e:
            step.outcome = "failed"
            return str(e)
        if done:
            step.outcome = "skipped"
            return None
    return _attempts(ctx, migration, step)


def _attempts(ctx: Context, migration: Migration, step: StepRecord) -> str | None:
    config, tracker = ctx.config, ctx.tracker
    retries = config.retries if ctx.timeouts is not None else 0
    while True:
        step.attempts += 1
        if ctx.timeouts is not None:
            step.lock_timeouts_ms.append(lock_timeout_ms(config, step.attempts))
            ctx.timeouts.set_lock_timeout(step.lock_timeouts_ms[-1])
        tracker.reset()
        try:
            call_command(
                "migrate",
                migration.app_label,
                migration.name,
                database=ctx.connection.alias,
                interactive=False,
                verbosity=ctx.verbosity,
                stdout=ctx.stdout,
            )
        except DatabaseError as e:
            _measure(ctx, migration, step)
            error = str(e).strip()
            step.errors.append(error)
            lock_timeout = getattr(e.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE
            partly = not migration.atomic and bool(tracker.completed)
            stopped = _where_it_stopped(tracker) if partly else ""
            _drop_left_invalid(ctx, step)  # its own statements are not the migration's
            if lock_timeout and step.attempts <= retries and not partly:
                time.sleep(backoff_s(config, step.attempts))
                continue
            step.outcome = "failed"
            return error + stopped
        except KeyboardInterrupt as e:
            _measure(ctx, migration, step)
            step.outcome = "interrupted"
            running = tracker.current or tracker.failed
            step.errors.append(f"interrupted by {describe(e)}")
            return f"interrupted by {describe(e)}" + (
                f" while running `{short(running)}` (cancelled); the next run reconciles "
                "with the catalog"
                if running
                else ""
            )
        _measure(ctx, migration, step)
        step.outcome = "applied"
        return None


def _measure(ctx: Context, migration: Migration, step: StepRecord) -> None:
    wait_s = ctx.tracker.reader_wait_s(migration.atomic, time.monotonic())
    step.reader_wait_ms = max(step.reader_wait_ms, round(wait_s * 1000))


def _where_it_stopped(tracker: AttemptTracker) -> str:
    return (
        f" (partly applied, not retried: {len(tracker.completed)} statement(s) had "
        f"completed, the last `{short(tracker.completed[-1])}`; it stopped at "
        f"`{short(tracker.failed or '?')}`)"
    )


def _drop_left_invalid(ctx: Context, step: StepRecord) -> None:
    """Drop the INVALID index the failed statement was building, if it left one and no
    session is building it; another session's concurrent build is never touched."""
    builds = ctx.tracker.concurrent_builds()
    if ctx.timeouts is None or not builds:
        return
    invalid = guard.droppable_invalid(ctx.connection, builds)
    if not invalid:
        return
    left = guard.drop_indexes(ctx.connection, invalid, ctx.config.cleanup_timeout_s)
    step.dropped_invalid_indexes.extend(n for n in invalid if n not in left)
    if left:
        step.errors.append(
            "INVALID index(es) left after a failed CONCURRENTLY build, drop them by hand: "
            + "; ".join(f"DROP INDEX CONCURRENTLY {name}" for name in left)
        )

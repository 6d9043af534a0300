"""``manage.py dbopt_migrate``: Django's ``migrate`` linted, locked, timed out and retried
(docs/migrations.md)."""

from __future__ import annotations

from django_dbopt.migration_run.guard import ADVISORY_LOCK_KEY, MigrationLocked
from django_dbopt.migration_run.record import RunRecord, StepRecord
from django_dbopt.migration_run.runner import run

__all__ = ["ADVISORY_LOCK_KEY", "MigrationLocked", "RunRecord", "StepRecord", "run"]

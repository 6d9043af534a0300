"""Celery tasks of every part, where ``app.autodiscover_tasks()`` looks for them.

Needs the ``celery`` extra. Each task is a one-line wrapper around a plain function that
is tested without a broker; see each part's docs for what to schedule with Celery beat.
"""

from __future__ import annotations

from django_dbopt.backup.tasks import (
    backup_database,
    check_backups,
    physical_backup,
    prune_backups,
    verify_backups,
)
from django_dbopt.monitor.tasks import explain_top, maintain_store
from django_dbopt.ops.tasks import evaluate_alerts

__all__ = [
    "backup_database",
    "check_backups",
    "evaluate_alerts",
    "explain_top",
    "maintain_store",
    "physical_backup",
    "prune_backups",
    "verify_backups",
]

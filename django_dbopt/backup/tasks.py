"""Celery tasks (the ``celery`` extra): one-line wrappers around ``jobs.py``.

A ready-to-use beat schedule is in docs/backups.md."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from django_dbopt.backup import jobs, physical


@shared_task(name="django_dbopt.backup.backup_database")  # type: ignore[untyped-decorator]
def backup_database(database: str = "default") -> str:
    return jobs.backup(database)


@shared_task(name="django_dbopt.backup.verify_backups")  # type: ignore[untyped-decorator]
def verify_backups(restore_test: bool = False) -> dict[str, bool]:
    return jobs.verify_latest(restore_test)


@shared_task(name="django_dbopt.backup.prune_backups")  # type: ignore[untyped-decorator]
def prune_backups() -> list[str]:
    return jobs.prune()


@shared_task(name="django_dbopt.backup.check_backups")  # type: ignore[untyped-decorator]
def check_backups() -> list[dict[str, Any]]:
    return jobs.check()


@shared_task(name="django_dbopt.backup.physical_backup")  # type: ignore[untyped-decorator]
def physical_backup(kind: str = "incr", database: str = "default") -> dict[str, Any]:
    return physical.physical_backup(kind, database)

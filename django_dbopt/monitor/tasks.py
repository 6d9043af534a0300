"""Celery tasks (the ``celery`` extra): one-line wrappers around plain functions."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from django_dbopt.monitor import flush, plans


@shared_task(name="django_dbopt.monitor.explain_top")  # type: ignore[untyped-decorator]
def explain_top(limit: int = 20) -> dict[str, Any]:
    return plans.explain_top(limit)


@shared_task(name="django_dbopt.monitor.maintain_store")  # type: ignore[untyped-decorator]
def maintain_store() -> dict[str, int]:
    return flush.maintain_now()

"""Celery task (the ``celery`` extra): evaluate the alert rules, for Celery beat."""

from __future__ import annotations

from celery import shared_task

from django_dbopt.ops import alerts


@shared_task(name="django_dbopt.ops.evaluate_alerts")  # type: ignore[untyped-decorator]
def evaluate_alerts() -> dict[str, list[str]]:
    return alerts.evaluate()

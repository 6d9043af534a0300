"""The queries behind the demo pages, as plain functions (one per index)."""

from __future__ import annotations

import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from example_project.demo.models import AuditLog, Task, User

SECURITY_EVENTS_LIMIT = 100


def login_lookup(email: str, now: datetime.datetime | None = None) -> User | None:
    """The active, unlocked user who may log in with ``email`` (users_login_lookup_idx)."""
    now = now or timezone.now()
    try:
        return User.objects.get(
            Q(account_locked_until__isnull=True) | Q(account_locked_until__lt=now),
            email=User.objects.normalize_email(email.strip()),
            is_active=True,
        )
    except User.DoesNotExist:
        return None


def dashboard_tasks(user: User) -> QuerySet[Task]:
    """``user``'s open tasks, most urgent first (tasks_dashboard_idx)."""
    return (
        Task.objects.filter(assigned_to=user, status__in=Task.OPEN_STATUSES)
        .select_related("project")
        .order_by("priority", "due_date")
    )


def status_counts(user: User) -> dict[str, int]:
    """Number of ``user``'s tasks in each status, every status present."""
    counts = dict.fromkeys(Task.Status.values, 0)
    rows = (
        Task.objects.filter(assigned_to=user)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for status, n in rows:
        counts[status] = n
    return counts


def security_events(
    action: str, result: str, limit: int = SECURITY_EVENTS_LIMIT
) -> QuerySet[AuditLog]:
    """The latest ``limit`` audit log entries for one action and result
    (audit_security_events_idx)."""
    return (
        AuditLog.objects.filter(action=action, result=result)
        .select_related("user")
        .order_by("-created_at")[:limit]
    )

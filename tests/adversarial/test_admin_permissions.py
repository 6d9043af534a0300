"""Issue 11, item 11: the report pages need a permission beyond ``is_staff``, and EXPLAIN
and HypoPG run only on a POST (with a CSRF token) by someone allowed to run them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_dbopt.monitor import advice, scope
from example_project.demo.factories import TaskFactory
from example_project.demo.models import Task, User
from tests.monitor_fixtures import MIDDLEWARE_PATH, fresh_monitor, monitor_config  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_monitor")]

PAGES = [
    "admin:dbopt_monitor_queries",
    "admin:dbopt_monitor_nplusone",
    "admin:dbopt_monitor_advice",
    "admin:django_dbopt_cachestats_changelist",
    "admin:django_dbopt_connectionpool_changelist",
    "admin:django_dbopt_replicastatuspage_changelist",
]


def _staff(email: str, *perms: str) -> User:
    user = User.objects.create_user(email, "pw", is_staff=True)
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="django_dbopt", codename=codename)
        )
    return User.objects.get(pk=user.pk)  # no stale permission cache


@pytest.fixture
def recorded(client: Client) -> str:
    """A SELECT recorded by the monitor; its fingerprint."""
    from django.conf import settings

    TaskFactory.create_batch(3)
    with override_settings(
        MIDDLEWARE=[MIDDLEWARE_PATH, *settings.MIDDLEWARE], DBOPT=monitor_config()
    ):
        client.get(reverse("demo:tasks_nplusone"))
        with scope("adversarial"):  # a filter on an unindexed column: advice would EXPLAIN it
            list(Task.objects.filter(title="nothing"))
    client.force_login(User.objects.create_superuser("root@example.com", "pw"))
    rows = client.get(reverse("admin:dbopt_monitor_queries")).context["rows"]
    client.logout()
    return str(next(r for r in rows if r["sql"].startswith("SELECT"))["fingerprint"])


@pytest.mark.parametrize("name", PAGES)
def test_staff_without_the_report_permission_is_refused(client: Client, name: str) -> None:
    client.force_login(_staff("staff@example.com"))
    response = client.get(reverse(name))
    assert response.status_code == 403
    assert b"SELECT" not in response.content


def test_staff_without_the_permission_does_not_see_sql_of_a_fingerprint(
    client: Client, recorded: str
) -> None:
    client.force_login(_staff("staff@example.com"))
    response = client.get(reverse("admin:dbopt_monitor_detail", args=[recorded]))
    assert response.status_code == 403
    index = client.get(reverse("admin:index"))
    assert b"Query monitor" not in index.content


def test_report_permission_shows_pages_but_cannot_run_explain(
    client: Client, recorded: str
) -> None:
    client.force_login(_staff("viewer@example.com", "view_reports"))
    assert client.get(reverse("admin:dbopt_monitor_queries")).status_code == 200
    detail = reverse("admin:dbopt_monitor_detail", args=[recorded])
    assert client.get(detail).status_code == 200
    assert client.post(detail).status_code == 403
    assert client.post(reverse("admin:dbopt_monitor_advice")).status_code == 403


@pytest.mark.postgres
def test_advice_page_runs_no_explain_on_get(
    client: Client, recorded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real = advice.advise

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(advice, "advise", counted)
    client.force_login(_staff("runner@example.com", "view_reports", "run_explain"))
    small_tables_count = override_settings(DBOPT=monitor_config(large_table_rows=1))
    with small_tables_count, CaptureQueriesContext(connection) as seen:
        page = client.get(reverse("admin:dbopt_monitor_advice"))
    assert page.status_code == 200
    assert page.context.get("advice") is None
    assert calls == []
    ran = [q["sql"] for q in seen.captured_queries]
    assert not [sql for sql in ran if "EXPLAIN" in sql.upper() or "hypopg_create" in sql]
    with small_tables_count, CaptureQueriesContext(connection) as seen:
        posted = client.post(reverse("admin:dbopt_monitor_advice"))
    assert posted.status_code == 200
    assert posted.context["advice"] is not None
    assert len(calls) == 1


@pytest.mark.postgres
def test_explain_actions_need_a_csrf_token(recorded: str) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(_staff("runner@example.com", "view_reports", "run_explain"))
    detail = reverse("admin:dbopt_monitor_detail", args=[recorded])
    assert strict.post(detail).status_code == 403
    assert strict.post(reverse("admin:dbopt_monitor_advice")).status_code == 403

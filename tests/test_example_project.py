"""The example project: its pages, admin, seeding command and indexes, on both engines."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from example_project.demo.factories import AuditLogFactory, TaskFactory, UserFactory
from example_project.demo.models import AuditLog, Project, Task, User

pytestmark = pytest.mark.django_db

PAGES = [
    ("demo:home", {}),
    ("demo:login_lookup", {"email": "user@example.com"}),
    ("demo:dashboard", {}),
    ("demo:security_events", {"action": "login", "result": "failure"}),
    ("demo:tasks_nplusone", {}),
    ("demo:tasks_fixed", {}),
]


@pytest.mark.parametrize(("name", "query"), PAGES)
def test_pages_answer_on_an_empty_database(
    client: Client, name: str, query: dict[str, str]
) -> None:
    assert client.get(reverse(name), query).status_code == 200


@pytest.mark.parametrize(("name", "query"), PAGES)
def test_pages_answer_with_data(client: Client, name: str, query: dict[str, str]) -> None:
    TaskFactory.create_batch(5)
    AuditLogFactory(action=AuditLog.Action.LOGIN, result=AuditLog.Result.FAILURE)
    response = client.get(reverse(name), query)
    assert response.status_code == 200


def test_login_lookup_finds_active_unlocked_user(client: Client) -> None:
    UserFactory(email="found@example.com")
    response = client.get(reverse("demo:login_lookup"), {"email": "found@example.com"})
    assert b"found@example.com" in response.content


def test_nplusone_view_really_runs_one_query_per_row_and_its_twin_does_not(
    client: Client,
) -> None:
    TaskFactory.create_batch(20)
    with CaptureQueriesContext(connection) as slow:
        slow_page = client.get(reverse("demo:tasks_nplusone"))
    with CaptureQueriesContext(connection) as fixed:
        fixed_page = client.get(reverse("demo:tasks_fixed"))
    assert len(slow) >= len(fixed) + 20  # at least one extra query per task
    assert len(fixed) <= 3
    strip = lambda page: page.content.split(b"<main", 1)[1].split(b"</main>", 1)[0]  # noqa: E731
    assert strip(slow_page) == strip(fixed_page)


def test_admin_needs_login_and_lists_every_model(client: Client) -> None:
    changelists = [f"admin:demo_{m}_changelist" for m in ("user", "project", "task", "auditlog")]
    assert client.get(reverse(changelists[0])).status_code == 302
    TaskFactory()
    admin = User.objects.create_superuser("root@example.com", "pw")
    client.force_login(admin)
    for name in changelists:
        assert client.get(reverse(name)).status_code == 200, name


def test_seed_demo_creates_the_requested_rows_with_progress() -> None:
    out = StringIO()
    call_command(
        "seed_demo", users=30, tasks=500, audit_logs=200, batch_size=128, seed=1, stdout=out
    )
    assert User.objects.count() == 30
    assert Task.objects.count() == 500
    assert AuditLog.objects.count() == 200
    assert Project.objects.exists()
    assert "100%" in out.getvalue()


def test_seed_demo_rejects_bad_counts() -> None:
    with pytest.raises(CommandError, match="--tasks must be zero or more"):
        call_command("seed_demo", tasks=-1, stdout=StringIO())
    assert not Task.objects.exists()


def test_demo_admin_prints_working_credentials(client: Client) -> None:
    out = StringIO()
    call_command("demo_admin", email="boss@example.com", password="s3cret-pass", stdout=out)
    assert "boss@example.com" in out.getvalue()
    assert "s3cret-pass" in out.getvalue()
    assert client.login(email="boss@example.com", password="s3cret-pass")


@pytest.mark.postgres
def test_design_indexes_exist_in_postgresql() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
        indexes = dict(cursor.fetchall())
    assert "(email, is_active, account_locked_until)" in indexes["users_login_lookup_idx"]
    assert "(assigned_to_id, status, priority, due_date)" in indexes["tasks_dashboard_idx"]
    assert "(action, result, created_at)" in indexes["audit_security_events_idx"]
    assert indexes["users_active_email_idx"].endswith("(email) WHERE is_active")


def test_seed_demo_if_empty_seeds_once() -> None:
    call_command("seed_demo", users=5, tasks=10, audit_logs=0, if_empty=True, stdout=StringIO())
    out = StringIO()
    call_command("seed_demo", users=5, tasks=10, audit_logs=0, if_empty=True, stdout=out)
    assert Task.objects.count() == 10
    assert "not seeding" in out.getvalue()


def test_a_command_before_the_first_migrate_is_quiet(tmp_path: Path) -> None:
    """The monitor's final flush has no tables to write to yet: no warning for that."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    for name in ("DJANGO_SETTINGS_MODULE", "REDIS_URL", "REPLICA_URLS"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "example_project/manage.py", "showmigrations", "django_dbopt"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[ ] 0001_initial" in proc.stdout
    assert "final flush failed" not in proc.stderr

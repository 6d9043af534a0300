"""``dbopt_report`` on the example project after a short load shows every finding."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from django_dbopt.monitor.report import SCHEMA
from example_project.demo.factories import ProjectFactory, TaskFactory
from tests.monitor_fixtures import MIDDLEWARE_PATH, fresh_monitor, monitor_config  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_monitor")]


def report(*args: str) -> Any:
    out = StringIO()
    call_command("dbopt_report", *args, stdout=out)
    return out.getvalue()


def load(client: Client, **monitor: Any) -> None:
    from django.conf import settings

    with override_settings(
        MIDDLEWARE=[MIDDLEWARE_PATH, *settings.MIDDLEWARE],
        DBOPT=monitor_config(**{"nplusone_min_total_ms": 0, **monitor}),
    ):
        for _ in range(3):
            assert client.get(reverse("demo:tasks_nplusone")).status_code == 200
            assert client.get(reverse("demo:tasks_fixed")).status_code == 200
            assert client.get(reverse("demo:home")).status_code == 200


@pytest.mark.postgres
def test_json_report_after_a_short_load_shows_everything(client: Client) -> None:
    TaskFactory.create_batch(10)
    load(client)
    project = ProjectFactory()
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        cursor.execute(
            "INSERT INTO tasks (title, description, project_id, status, priority, created_at,"
            " updated_at) SELECT md5(g::text), '', %s, 'todo', 3, now(), now()"
            " FROM generate_series(1, 30000) g",
            [project.pk],
        )
        cursor.execute("ANALYZE tasks")
    with override_settings(DBOPT=monitor_config(slow_query_ms=20)):
        from example_project.demo.models import Task

        for _ in range(3):
            list(Task.objects.filter(title="needle"))  # unindexed column, large table
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.03)")
        data = json.loads(
            report("--format", "json", "--since", "1h", "--explain-top", "50")
        )  # every shape: a loaded machine reorders the top
    assert data["schema"] == SCHEMA
    assert data["store"]["flushes"] >= 1
    by_sql = {r["sql"]: r for r in data["fingerprints"]}
    assert any(r["calls"] >= 30 and r["p95_ms"] is not None for r in by_sql.values())
    assert any(v["view"] == "demo:tasks_nplusone" for v in data["views"])
    assert "SELECT pg_sleep(?)" in {s["sql"] for s in data["slow_queries"]}
    hints = {f["hint"] for f in data["nplusone"] if f["view"] == "demo:tasks_nplusone"}
    assert hints == {
        "demo.Task: use select_related('project')",
        "demo.Task: use select_related('assigned_to')",
    }
    assert not [f for f in data["nplusone"] if f["view"] == "demo:tasks_fixed"]
    (advice,) = [a for a in data["index_advice"] if a["columns"] == ["title"]]
    assert advice["status"] == "validated"
    assert "AddIndexConcurrently" in advice["migration"]
    assert data["plans"]
    assert all("error" not in plan for plan in data["plans"].values())
    assert any(f["kind"] == "seq_scan" for p in data["plans"].values() for f in p["findings"])
    assert "unused" in data["indexes"]


@pytest.mark.postgres
def test_view_filter_and_text_format(client: Client) -> None:
    TaskFactory.create_batch(6)
    load(client)
    data = json.loads(report("--format", "json", "--view", "demo:tasks_fixed", "--no-advice"))
    assert {v["view"] for v in data["views"]} == {"demo:tasks_fixed"}
    assert data["nplusone"] == []
    text = report("--since", "2h")
    assert "Top fingerprints by total time" in text
    assert "hint: demo.Task: use select_related('project')" in text
    assert "N+1 findings" in text


def test_bad_arguments_are_command_errors() -> None:
    with pytest.raises(CommandError, match="--since 'yesterday'"):
        report("--since", "yesterday")
    with pytest.raises(CommandError, match="--limit"):
        report("--limit", "0")
    with pytest.raises(CommandError):
        report("--database", "nope")


def test_report_on_an_empty_store_says_no_data() -> None:
    text = report("--no-advice")
    assert "no data" in text
    assert "none recorded" in text


def test_an_unknown_view_is_a_command_error_listing_the_known_ones(client: Client) -> None:
    load(client)
    with pytest.raises(CommandError, match=r"--view 'demo:nope'.*demo:tasks_nplusone"):
        report("--view", "demo:nope")
    assert "demo:tasks_fixed" in report("--view", "demo:tasks_fixed")

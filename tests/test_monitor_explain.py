"""EXPLAIN: SELECT only, never a write, findings from the JSON plan."""

from __future__ import annotations

import pytest
from django.db import connection

from django_dbopt.exceptions import UnsafeQuery
from django_dbopt.monitor.explain import check_select, explain, parameterize
from django_dbopt.monitor.fingerprint import fingerprint
from django_dbopt.monitor.plan_findings import findings
from example_project.demo.factories import TaskFactory
from example_project.demo.models import Project, Task
from tests.monitor_fixtures import fresh_monitor  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE tasks SET title = 'x'",
        "DELETE FROM tasks",
        "SELECT 1; DELETE FROM tasks",
        "SELECT 1; SELECT 2",
        "WITH gone AS (DELETE FROM tasks RETURNING id) SELECT * FROM gone",
        "SELECT * FROM tasks FOR UPDATE",
        "EXPLAIN ANALYZE DELETE FROM tasks",
        "INSERT INTO tasks (title) VALUES ('x')",
    ],
)
def test_refuses_anything_but_one_select(sql: str) -> None:
    with pytest.raises(UnsafeQuery):
        explain(sql)


def test_update_really_is_not_run() -> None:
    task = TaskFactory(title="before")
    with pytest.raises(UnsafeQuery, match="only SELECT"):
        explain(f"UPDATE tasks SET title = 'after' WHERE id = {task.pk}")
    with pytest.raises(UnsafeQuery):
        explain(f"SELECT 1; UPDATE tasks SET title = 'after' WHERE id = {task.pk}")
    with pytest.raises(UnsafeQuery, match="one statement at a time"):
        explain("SELECT 1; SELECT pg_sleep(0)")
    task.refresh_from_db()
    assert task.title == "before"


def test_select_explained_and_rolled_back_with_timeout() -> None:
    TaskFactory.create_batch(3)
    sql, params = Task.objects.filter(title="x").query.sql_with_params()
    result = explain(sql, params, analyze=True)
    assert result.analyzed
    assert result.plan["Plan"]["Node Type"]
    assert result.total_cost > 0
    with connection.cursor() as cursor:  # the SET LOCALs did not leak out
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


def test_generic_plan_of_a_fingerprint() -> None:
    sql, _ = Task.objects.filter(title="x", pk__in=[1, 2, 3]).query.sql_with_params()
    shape = fingerprint(sql).sql
    assert "?" in shape
    text, count = parameterize(shape)
    assert count == 2
    assert "$2" in text
    result = explain(shape)
    assert not result.analyzed
    assert result.total_cost > 0
    with pytest.raises(UnsafeQuery, match="ANALYZE needs real parameter values"):
        explain(shape, analyze=True)
    with connection.cursor() as cursor:  # no prepared statement left behind
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'dbopt_%%'")
        assert cursor.fetchone()[0] == 0


def test_check_select_accepts_plain_reads() -> None:
    check_select('SELECT "tasks"."id" FROM "tasks" WHERE "tasks"."id" = %s')
    check_select("WITH x AS (SELECT 1) SELECT * FROM x")


@pytest.mark.django_db(transaction=True)
def test_findings_seq_scan_misestimate_nested_loop_and_disk_sort() -> None:
    owner = TaskFactory().project.owner
    project = Project.objects.create(name="big", owner=owner)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tasks (title, description, project_id, status, priority, created_at,"
            " updated_at) SELECT md5(g::text), repeat('x', 200), %s, 'todo', 3, now(), now()"
            " FROM generate_series(1, 20000) g",
            [project.pk],
        )
        cursor.execute("ANALYZE tasks")
    try:
        scan = explain("SELECT * FROM tasks WHERE title = %s", ["nope"], analyze=True)
        (seq,) = [f for f in findings(scan, "default") if f["kind"] == "seq_scan"]
        assert seq["table"] == "tasks"
        assert seq["table_rows"] >= 20000
        off = explain("SELECT * FROM tasks WHERE length(title) = 32", analyze=True)
        assert "misestimate" in {f["kind"] for f in findings(off, "default")}
        with connection.cursor() as cursor:
            cursor.execute("SET work_mem = '64kB'")
            cursor.execute("SET enable_hashjoin = off")
            cursor.execute("SET enable_mergejoin = off")
        sort = explain("SELECT * FROM tasks ORDER BY description, title", analyze=True)
        assert "sort_on_disk" in {f["kind"] for f in findings(sort, "default")}
        loop = explain(
            "SELECT count(*) FROM tasks a JOIN tasks b ON b.id = a.id WHERE a.priority = 3",
            analyze=True,
        )
        assert "nested_loop" in {f["kind"] for f in findings(loop, "default")}
        small = explain("SELECT * FROM projects WHERE name = %s", ["x"], analyze=True)
        assert findings(small, "default") == []
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ALL")
            cursor.execute("DELETE FROM tasks WHERE project_id = %s", [project.pk])


@pytest.mark.usefixtures("fresh_monitor")
def test_celery_tasks_wrap_the_background_jobs() -> None:
    from django_dbopt.monitor import tasks
    from django_dbopt.monitor.flush import flush_now

    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT "projects"."id" FROM "projects" WHERE "projects"."name" = %s', ["x"]
        )
        cursor.execute("UPDATE projects SET name = name WHERE id = -1")
    flush_now()
    plans = tasks.explain_top.apply(kwargs={"limit": 5}).get()
    assert plans
    assert all("plan" in p for p in plans.values())  # the UPDATE was skipped, not explained
    assert set(tasks.maintain_store.apply().get()) == {"compacted", "rolled_up", "pruned"}

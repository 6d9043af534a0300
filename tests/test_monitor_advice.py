"""Index advice proved with HypoPG; nothing for covered columns; unused/duplicate report."""

from __future__ import annotations

import pytest
from django.db import connection

from django_dbopt.monitor.advice import Candidate, advise_query, candidates, covered
from django_dbopt.monitor.fingerprint import fingerprint
from django_dbopt.monitor.indexes import IndexInfo, duplicate_indexes, unused_indexes
from django_dbopt.monitor.migration import migration_for
from example_project.demo.factories import ProjectFactory
from example_project.demo.models import Task, User

pytestmark = [pytest.mark.django_db]


def shape(queryset: object) -> str:
    sql, _ = queryset.query.sql_with_params()  # type: ignore[attr-defined]
    return fingerprint(sql).sql


def test_candidates_from_where_join_and_order_by() -> None:
    sql = shape(
        Task.objects.filter(title="x", status__in=["todo", "done"], due_date__gt="2024-01-01")
        .select_related("project")
        .order_by("priority")
    )
    found = {c.table: c for c in candidates(sql)}
    assert found["tasks"].columns == ["title", "status", "due_date"]
    assert found["tasks"].equality == 2
    assert found["projects"].columns == ["id"]


def test_covered_by_an_index_prefix() -> None:
    index = IndexInfo("tasks", "i", False, False, False, True, ["a", "b", "c"], 0, 0)
    assert covered(Candidate("tasks", ["b", "a"], 2), [index])
    assert covered(Candidate("tasks", ["a"], 1), [index])
    assert not covered(Candidate("tasks", ["b"], 1), [index])
    partial = IndexInfo("tasks", "p", False, False, True, True, ["b"], 0, 0)
    assert not covered(Candidate("tasks", ["b"], 1), [partial])


@pytest.fixture
def big_tasks() -> None:
    project = ProjectFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tasks (title, description, project_id, assigned_to_id, status, priority,"
            " created_at, updated_at) SELECT md5(g::text), '', %s, %s, 'todo', 1 + g %% 4, now(),"
            " now() FROM generate_series(1, 30000) g",
            [project.pk, project.owner_id],
        )
        cursor.execute("ANALYZE tasks")
        cursor.execute("ANALYZE users")


@pytest.mark.postgres
def test_hypopg_validates_an_index_on_an_unindexed_column(big_tasks: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    sql = shape(Task.objects.filter(title="abc"))
    (advice,) = advise_query(fingerprint(sql).id, sql, "default", calls=100, total_ms=500.0)
    assert advice.status == "validated"
    assert (advice.table, advice.columns) == ("tasks", ["title"])
    assert advice.cost_after is not None
    assert advice.cost_before is not None
    assert advice.cost_after < advice.cost_before * 0.9
    assert advice.est_saved_ms is not None
    assert 0 < advice.est_saved_ms < 500
    assert "AddIndexConcurrently(" in advice.migration
    assert "fields=['title']" in advice.migration
    assert "('demo', '0001_initial')" in advice.migration
    assert advice.ddl == 'CREATE INDEX CONCURRENTLY ON "tasks" ("title")'
    compile(advice.migration, "migration.py", "exec")
    with connection.cursor() as cursor:  # hypothetical indexes were reset
        cursor.execute("SELECT count(*) FROM hypopg_list_indexes")
        assert cursor.fetchone()[0] == 0


@pytest.mark.postgres
def test_no_advice_for_covered_columns(big_tasks: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    for queryset in (
        User.objects.filter(email="a@example.com"),  # unique index on email
        Task.objects.filter(assigned_to_id=1, status="todo"),  # tasks_dashboard_idx prefix
        Task.objects.filter(pk=5),
    ):
        sql = shape(queryset)
        assert advise_query(fingerprint(sql).id, sql, "default", 10, 10.0) == []


@pytest.mark.postgres
def test_without_hypopg_advice_is_unvalidated(big_tasks: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION IF EXISTS hypopg")
    sql = shape(Task.objects.filter(title="abc"))
    (advice,) = advise_query(fingerprint(sql).id, sql, "default", calls=3, total_ms=9.0)
    assert advice.status == "unvalidated"
    assert advice.cost_before is None
    assert advice.est_saved_ms is None


@pytest.mark.postgres
def test_duplicate_and_unused_indexes() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX tasks_assignee_dup ON tasks (assigned_to_id)")
    dupes = {d["index"]: d for d in duplicate_indexes("default")}
    assert dupes["tasks_assignee_dup"]["covered_by"] == "tasks_dashboard_idx"
    unused = {u["index"] for u in unused_indexes("default")}
    assert "tasks_assignee_dup" in unused


def test_migration_for_a_table_without_model_is_sql() -> None:
    sql = migration_for("not_a_model", ["a", "b"])
    assert sql.startswith('CREATE INDEX CONCURRENTLY "not_a_mode_a_')
    assert sql.endswith('_idx" ON "not_a_model" ("a", "b");\n')

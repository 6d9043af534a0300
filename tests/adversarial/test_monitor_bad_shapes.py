"""A stored query shape sqlglot cannot tokenize (issue 11, item 9) must not break the
report, the advice page or the EXPLAIN task, and must not hide the good shapes."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_dbopt.monitor.plans import explain_top
from example_project.demo.factories import TaskFactory
from tests.monitor_fixtures import fresh_monitor, monitor_config  # noqa: F401

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.usefixtures("fresh_monitor"),
]

#: an unterminated comment (from a query that failed on the server)
BAD = ("b" * 16, 'SELECT "tasks"."id" FROM "tasks" WHERE "tasks"."priority" = ? /* oops')
#: also untokenizable: an unterminated string and dollar quote
WORSE = ("c" * 16, "SELECT $q$ never closed")
GOOD = ("a" * 16, 'SELECT "tasks"."id" FROM "tasks" WHERE "tasks"."title" = ?')


def store(*shapes: tuple[str, str]) -> None:
    from django_dbopt.monitor.models import QueryShape, QueryStat

    now = timezone.now()
    for n, (fp, sql) in enumerate(shapes):
        QueryShape.objects.create(fingerprint=fp, sql=sql, alias="default", first_seen=now)
        QueryStat.objects.create(
            bucket_start=now,
            resolution_s=300,
            fingerprint=fp,
            view="-",
            calls=10,
            total_ms=1000.0 * (n + 1),  # the bad shapes rank first
            min_ms=1.0,
            max_ms=200.0,
        )


@pytest.fixture
def shapes(fresh_monitor: None) -> Any:  # noqa: F811
    TaskFactory.create_batch(5)
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION IF EXISTS hypopg")  # the unvalidated path, simpler
        cursor.execute("ANALYZE tasks")
    store(GOOD, BAD, WORSE)
    with override_settings(DBOPT=monitor_config(large_table_rows=1)):
        yield


@pytest.mark.usefixtures("shapes")
def test_dbopt_report_with_a_bad_shape() -> None:
    out = StringIO()
    call_command("dbopt_report", "--format", "json", "--explain-top", "5", stdout=out)
    report = json.loads(out.getvalue())
    advice = report["index_advice"]
    assert [(a["table"], a["columns"]) for a in advice] == [("tasks", ["title"])]
    assert "error" not in report["plans"][GOOD[0]]
    assert "error" in report["plans"][BAD[0]]
    text = StringIO()
    call_command("dbopt_report", stdout=text)
    assert 'CREATE INDEX CONCURRENTLY ON "tasks" ("title")' in text.getvalue()


@pytest.mark.usefixtures("shapes")
def test_advice_page_with_a_bad_shape(admin_client: Client) -> None:
    # advice runs on POST only (EXPLAIN and HypoPG: tests/adversarial/test_admin_permissions.py)
    page = admin_client.post(reverse("admin:dbopt_monitor_advice") + "?since=1d")
    assert page.status_code == 200
    assert b"&quot;title&quot;" in page.content or b'"title"' in page.content


@pytest.mark.usefixtures("shapes")
def test_explain_task_with_a_bad_shape() -> None:
    done = explain_top(5)
    assert set(done) == {GOOD[0], BAD[0], WORSE[0]}
    assert "plan" in done[GOOD[0]]
    assert "error" in done[BAD[0]]
    assert "error" in done[WORSE[0]]

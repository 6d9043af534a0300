"""The queries page (filters, sorting by every column, paging, units, SQL wrapped), a
fingerprint's page (history chart, plan tree, histogram labels inside the drawing)."""

from __future__ import annotations

import re

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from django_dbopt.monitor import histogram, scope
from django_dbopt.monitor.chart import WIDTH, histogram_chart
from django_dbopt.monitor.flush import flush_now
from django_dbopt.monitor.listing import COLUMNS, PER_PAGE
from django_dbopt.monitor.plan_tree import plan_rows
from example_project.demo.factories import TaskFactory
from example_project.demo.models import User
from tests.monitor_fixtures import fresh_monitor  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_monitor")]

URL = "admin:dbopt_monitor_queries"


def _run(sql: str, times: int = 1, name: str = "demo:shapes", using: str = "default") -> None:
    with scope(name), connections[using].cursor() as cursor:
        for _ in range(times):
            cursor.execute(sql)
            cursor.fetchall()


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root@example.com", "pw"))
    return client


@pytest.fixture
def shapes() -> None:
    for n in range(PER_PAGE + 12):  # more distinct shapes than one page holds
        _run(f"SELECT 1 AS c{n}", times=1 + n % 4)
    _run("SELECT 1 AS from_a_command", name="command:seed_demo")
    flush_now()


def test_paged_with_every_column_sortable_and_units_in_headers(
    admin_client: Client, shapes: None
) -> None:
    first = admin_client.get(reverse(URL))
    assert first.status_code == 200
    assert len(first.context["rows"]) == PER_PAGE
    assert first.context["page"].paginator.num_pages == 2
    second = admin_client.get(reverse(URL), {"page": 2})
    seen = {r["fingerprint"] for r in first.context["rows"]}
    assert not seen & {r["fingerprint"] for r in second.context["rows"]}
    headers = first.context["headers"]
    assert [h["key"] for h in headers] == list(COLUMNS)
    for h in headers:
        if h["key"] not in ("fingerprint", "sql", "alias"):
            assert re.search(r"\((ms|count)\)$", h["label"]), h["label"]
    for key in COLUMNS:
        for order in (key, f"-{key}"):
            page = admin_client.get(reverse(URL), {"o": order, "since": "1h"})
            values = [r[key] for r in page.context["rows"] if r[key] is not None]
            if key in ("fingerprint", "sql", "alias"):
                values = [str(v).lower() for v in values]
            assert values == sorted(values, reverse=order.startswith("-")), order


def test_commands_and_own_queries_hidden_unless_asked(admin_client: Client, shapes: None) -> None:
    own = "SELECT COUNT(*) FROM dbopt_flush_log"  # django-dbopt's own table
    if connections["default"].vendor == "postgresql":
        own = "SELECT pg_current_wal_lsn()"  # the router's read-your-writes query
    _run(own, times=3)
    flush_now()
    marker = own.split()[1].split("(")[0] if "pg_" in own else "dbopt_flush_log"

    def sqls(**params: str) -> list[str]:
        query = {"o": "-calls", **params}
        rows = []
        page = 1
        while True:
            response = admin_client.get(reverse(URL), {**query, "page": page})
            rows += [r["sql"] for r in response.context["rows"]]
            if not response.context["page"].has_next():
                return rows
            page += 1

    default = sqls()
    assert not [s for s in default if "from_a_command" in s or marker in s]
    assert [s for s in sqls(commands="1") if "from_a_command" in s]
    assert [s for s in sqls(own="1") if marker in s]
    only = sqls(view="command:seed_demo")
    assert only
    assert all("from_a_command" in s for s in only)


def test_sql_is_wrapped_and_highlighted(admin_client: Client) -> None:
    TaskFactory.create_batch(2)
    with scope("demo:tasks"):
        from example_project.demo.models import Task

        list(Task.objects.select_related("project").filter(status="todo").order_by("-id"))
    flush_now()
    page = admin_client.get(reverse(URL))
    html = page.content.decode()
    assert 'class="dbopt-sql"' in html
    assert "white-space: pre-wrap" in html
    assert '<b class="dbopt-kw">WHERE</b>' in html
    assert '\n<b class="dbopt-kw">FROM</b>' in html  # one clause per line


@pytest.mark.postgres
def test_database_filter(admin_client: Client, shapes: None) -> None:
    default = admin_client.get(reverse(URL), {"database": "default"}).context
    assert default["total_rows"] > 0
    assert all(r["alias"] == "default" for r in default["rows"])
    assert admin_client.get(reverse(URL), {"database": "replica"}).context["total_rows"] == 0


def test_detail_has_a_history_chart(admin_client: Client, shapes: None) -> None:
    rows = admin_client.get(reverse(URL), {"o": "-calls"}).context["rows"]
    detail = admin_client.get(reverse("admin:dbopt_monitor_detail", args=[rows[0]["fingerprint"]]))
    html = detail.content.decode()
    history = html[html.index('id="dbopt-history"') :]
    assert 'aria-label="latency over time"' in history
    assert 'aria-label="throughput over time"' in history
    assert "<circle" in history or "<polyline" in history
    assert "P95" in history
    assert "P99" in history


def test_histogram_labels_stay_inside_the_drawing() -> None:
    hist: dict[int, int] = {}
    for ns in [200_000] * 50 + [5_000_000] * 40 + [90_000_000] * 10:
        index = histogram.bucket_of(ns)
        hist[index] = hist.get(index, 0) + 1
    chart = histogram_chart(hist)
    assert chart is not None
    for marker in chart["markers"]:
        text = f"{marker['name']} {marker['label']}"
        width = 6 * len(text)  # 10px sans-serif: at most ~6px a character
        if marker["anchor"] == "end":
            assert marker["text_x"] - width >= 0
            assert marker["text_x"] <= WIDTH
        else:
            assert marker["text_x"] + width <= WIDTH, marker


@pytest.mark.postgres
def test_plan_is_a_tree_not_a_dict(admin_client: Client) -> None:
    TaskFactory.create_batch(3)
    with scope("demo:tasks"):
        from example_project.demo.models import Task

        list(Task.objects.select_related("project").filter(title__startswith="x"))
    flush_now()
    rows = admin_client.get(reverse(URL), {"o": "-total_ms"}).context["rows"]
    fp = next(r["fingerprint"] for r in rows if "JOIN" in r["sql"])
    detail = admin_client.post(reverse("admin:dbopt_monitor_detail", args=[fp]))
    html = detail.content.decode()
    assert 'id="dbopt-plan"' in html
    tree = detail.context["plan_rows"]
    assert tree[0]["depth"] == 0
    assert any(r["depth"] >= 1 for r in tree)
    assert {"Rows (estimated)", "Cost (planner units)"} <= set(re.findall(r">([^<>]+)</th>", html))
    assert "{&#x27;Plan&#x27;" not in html
    assert "{'Plan'" not in html


def test_plan_rows_attach_findings_to_their_node() -> None:
    plan = {
        "Plan": {
            "Node Type": "Nested Loop",
            "Total Cost": 10.5,
            "Plan Rows": 5,
            "Plans": [
                {
                    "Node Type": "Seq Scan",
                    "Relation Name": "tasks",
                    "Total Cost": 4.0,
                    "Plan Rows": 20000,
                    "Actual Rows": 19000,
                    "Filter": "(status = 'x')",
                },
                {
                    "Node Type": "Index Scan",
                    "Relation Name": "projects",
                    "Index Name": "projects_pkey",
                    "Total Cost": 0.3,
                    "Plan Rows": 1,
                },
            ],
        }
    }
    findings = [{"kind": "seq_scan", "table": "tasks", "message": "sequential scan of tasks"}]
    rows = plan_rows(plan, findings)
    assert [r["node"] for r in rows] == ["Nested Loop", "Seq Scan", "Index Scan"]
    assert [r["depth"] for r in rows] == [0, 1, 1]
    assert rows[1]["findings"] == ["sequential scan of tasks"]
    assert rows[1]["actual_rows"] == 19000
    assert rows[1]["plan_rows"] == 20000
    assert rows[2]["detail"] == "on projects using projects_pkey"
    assert rows[2]["findings"] == []


@pytest.mark.django_db
def test_history_slots_are_never_finer_than_the_stored_buckets() -> None:
    import datetime

    from django.test import override_settings
    from django.utils import timezone

    from django_dbopt.monitor import series

    since = timezone.now() - datetime.timedelta(minutes=5)
    with override_settings(DBOPT={"MONITOR": {"BUCKET_S": 10, "FLUSH_INTERVAL_S": 0}}):
        slots = series.series(since, trim=False)
    assert 30 <= len(slots) <= 32  # 5 minutes of 10-second buckets, not 60 slots of 5 s
    assert all(s.seconds >= 10 for s in slots)
    start, end = series.domain(slots)
    assert start <= since < start + datetime.timedelta(seconds=10)
    assert end >= timezone.now() - datetime.timedelta(seconds=1)


@pytest.mark.django_db
@pytest.mark.usefixtures("shapes")
def test_history_begins_at_the_first_stored_bucket() -> None:
    import datetime

    from django.utils import timezone

    from django_dbopt.monitor import series

    day_ago = timezone.now() - datetime.timedelta(days=1)
    start, _ = series.domain(series.series(day_ago))
    assert start > timezone.now() - datetime.timedelta(minutes=10)
    start, _ = series.domain(series.series(day_ago, trim=False))
    assert start <= day_ago

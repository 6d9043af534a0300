"""The monitor's admin pages: staff only, sortable queries, histogram chart, N+1, advice."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from example_project.demo.factories import TaskFactory
from example_project.demo.models import User
from tests.monitor_fixtures import MIDDLEWARE_PATH, fresh_monitor, monitor_config  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_monitor")]

PAGES = [
    "admin:dbopt_monitor_queries",
    "admin:dbopt_monitor_nplusone",
    "admin:dbopt_monitor_advice",
]


@pytest.fixture
def loaded(client: Client) -> None:
    from django.conf import settings

    TaskFactory.create_batch(6)
    with override_settings(
        MIDDLEWARE=[MIDDLEWARE_PATH, *settings.MIDDLEWARE],
        DBOPT=monitor_config(nplusone_min_total_ms=0),
    ):
        for _ in range(2):
            client.get(reverse("demo:tasks_nplusone"))


@pytest.mark.parametrize("name", PAGES)
def test_pages_need_staff(client: Client, name: str) -> None:
    assert client.get(reverse(name)).status_code == 302  # to the login page
    user = User.objects.create_user("plain@example.com", "pw")
    client.force_login(user)
    assert client.get(reverse(name)).status_code == 302
    assert client.get(reverse("admin:dbopt_monitor_detail", args=["abc"])).status_code == 302


def test_queries_sortable_and_detail_has_chart(client: Client, loaded: None) -> None:
    client.force_login(User.objects.create_superuser("root@example.com", "pw"))
    page = client.get(reverse("admin:dbopt_monitor_queries"), {"o": "-calls"})
    assert page.status_code == 200
    rows = page.context["rows"]
    assert rows
    assert [r["calls"] for r in rows] == sorted((r["calls"] for r in rows), reverse=True)
    assert b'<b class="dbopt-kw">FROM</b> &quot;projects&quot;' in page.content
    fp = rows[0]["fingerprint"]
    detail = client.get(reverse("admin:dbopt_monitor_detail", args=[fp]))
    assert detail.status_code == 200
    assert b'<svg id="dbopt-histogram"' in detail.content
    assert b"<rect " in detail.content
    assert b"P95" in detail.content
    assert b"cdn" not in detail.content.lower()
    assert client.get(reverse("admin:dbopt_monitor_detail", args=["0" * 16])).status_code == 404
    assert client.get(reverse("admin:django_dbopt_monitorpage_changelist")).status_code == 200
    assert b"Query monitor" in client.get(reverse("admin:index")).content


def test_nplusone_page_lists_the_finding(client: Client, loaded: None) -> None:
    client.force_login(User.objects.create_superuser("root@example.com", "pw"))
    page = client.get(reverse("admin:dbopt_monitor_nplusone"))
    assert page.status_code == 200
    assert b"select_related(&#x27;project&#x27;)" in page.content
    assert b"example_project/demo/views.py" in page.content


@pytest.mark.postgres
def test_detail_post_runs_explain_and_advice_pages_render(client: Client, loaded: None) -> None:
    client.force_login(User.objects.create_superuser("root@example.com", "pw"))
    rows = client.get(reverse("admin:dbopt_monitor_queries")).context["rows"]
    select = next(r for r in rows if r["sql"].startswith("SELECT"))
    detail = client.post(reverse("admin:dbopt_monitor_detail", args=[select["fingerprint"]]))
    assert detail.status_code == 200
    assert "error" not in detail.context["plan"]
    assert b"Plan (JSON)" in detail.content
    again = client.get(reverse("admin:dbopt_monitor_detail", args=[select["fingerprint"]]))
    assert b"(cached; the button runs EXPLAIN again)" in again.content
    advice = client.get(reverse("admin:dbopt_monitor_advice"))
    assert advice.status_code == 200
    assert b"Unused indexes" in advice.content

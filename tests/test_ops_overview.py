"""The overview (the admin's django-dbopt index and its own page): each part's state and
trend from measured data, tiles linking to their pages; the demo's load script."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_dbopt.monitor import scope
from django_dbopt.monitor.flush import flush_now
from django_dbopt.monitor.models import QueryStat
from django_dbopt.ops import overview
from example_project.demo.load import run
from example_project.demo.models import User
from example_project.demo.seeding import seed
from tests.monitor_fixtures import MIDDLEWARE_PATH, fresh_monitor, monitor_config  # noqa: F401

pytestmark = [pytest.mark.usefixtures("fresh_monitor")]

DEMO_PAGES = ("demo:home", "demo:dashboard", "demo:tasks_nplusone", "demo:tasks_fixed")


def _traffic(client: Client, rounds: int = 3) -> None:
    with override_settings(
        MIDDLEWARE=[MIDDLEWARE_PATH, *settings.MIDDLEWARE],
        DBOPT=monitor_config(nplusone_min_total_ms=0),
    ):
        for _ in range(rounds):
            for name in DEMO_PAGES:
                assert client.get(reverse(name)).status_code == 200
    flush_now()


@pytest.mark.django_db
def test_overview_tiles_show_measured_trends_and_link_to_their_pages(client: Client) -> None:
    seed(users=8, tasks=30, audit_logs=20, random_seed=1)
    _traffic(client)
    client.force_login(User.objects.create_superuser("root@example.com", "pw"))
    for url in (
        reverse("admin:app_list", args=["django_dbopt"]),
        reverse("admin:django_dbopt_overviewpage_changelist"),
    ):
        page = client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert 'id="dbopt-overview"' in html
        assert 'aria-label="query latency over time"' in html
        assert 'aria-label="query throughput over time"' in html
        for link in (
            reverse("admin:dbopt_monitor_queries"),
            reverse("admin:dbopt_monitor_nplusone"),
            reverse("admin:django_dbopt_cachestats_changelist"),
            reverse("admin:django_dbopt_replicastatuspage_changelist"),
            reverse("admin:django_dbopt_connectionpool_changelist"),
            reverse("admin:django_dbopt_alert_changelist"),
        ):
            assert f'href="{link}' in html, link
        assert "cdn" not in html.lower()
    tiles = page.context["tiles"]
    assert tiles["queries"]["calls"] > 0
    assert tiles["queries"]["nplusone_count"] >= 1  # the demo's N+1 page
    assert "No alert firing." in html


@pytest.mark.django_db
def test_overview_refused_without_the_report_permission(client: Client) -> None:
    client.force_login(User.objects.create_user("staff@example.com", "pw", is_staff=True))
    assert client.get(reverse("admin:django_dbopt_overviewpage_changelist")).status_code == 403
    index = client.get(reverse("admin:app_list", args=["django_dbopt"]))
    assert index.status_code in (403, 404)
    assert b"dbopt-overview" not in index.content


@pytest.mark.django_db
def test_regressions_compare_the_halves_of_the_period() -> None:
    with scope("demo:slow"):
        from django.db import connection

        with connection.cursor() as cursor:
            for _ in range(6):
                cursor.execute("SELECT 1 AS regress")
    flush_now()
    since = timezone.now() - datetime.timedelta(hours=1)
    # the same shape an hour ago ran 10x faster: move a copy of its rows back in time
    for row in QueryStat.objects.all():
        earlier: dict[str, Any] = {
            f.name: getattr(row, f.name) for f in QueryStat._meta.fields if f.name != "id"
        }
        earlier["bucket_start"] = since + datetime.timedelta(minutes=1)
        earlier["total_ms"] = row.total_ms / 10
        QueryStat.objects.create(**earlier)
    tile = overview.queries_tile(since)
    found = [r for r in tile["regressions"] if "regress" in r["sql"]]
    assert len(found) == 1
    assert found[0]["factor"] == pytest.approx(10, rel=0.01)


@pytest.mark.django_db(transaction=True)
def test_load_script_drives_the_demo_over_http(live_server: Any) -> None:
    seed(users=5, tasks=10, audit_logs=10, random_seed=2)
    result = run(live_server.url, seconds=2, threads=2, users=5)
    assert result.requests > 0
    assert dict(result.statuses) == {"200": result.requests}
    assert result.percentile(0.5) is not None


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_backup_and_benchmark_tiles_show_stored_state(
    client: Client, tmp_path: Any, settings: Any
) -> None:
    from django_dbopt.backup import freshness, jobs
    from django_dbopt.benchmark.models import BenchmarkRun
    from tests.backup_fixtures import backup_settings

    freshness.clear()
    assert "unavailable" in overview.benchmark_tile()
    settings.DBOPT = backup_settings(tmp_path / "backups", MAX_VERIFIED_AGE_H=1)
    try:
        tile = overview.backups_tile()
        (row,) = [d for d in tile["databases"] if d["database"] == "default"]
        assert row["stale"]
        assert row["backup_age_h"] is None
        jobs.backup("default")
        freshness.clear()
        tile = overview.backups_tile()
        (row,) = [d for d in tile["databases"] if d["database"] == "default"]
        assert not row["stale"]
        assert row["verified_age_h"] is not None
        assert row["verified_age_h"] < 1
        run = BenchmarkRun.objects.create(
            preset="quick", env_key="e", duration_s=1.0, grade="B", regressions=2
        )
        client.force_login(User.objects.create_superuser("tiles@example.com", "pw"))
        page = client.get(reverse("admin:django_dbopt_overviewpage_changelist"))
        assert page.status_code == 200
        html = page.content.decode()
        assert 'id="dbopt-tile-backups"' in html
        assert "last verified 0.0 h ago" in html
        assert reverse("admin:django_dbopt_backupspage_changelist") in html
        assert reverse("admin:django_dbopt_benchmarkrun_change", args=[run.pk]) in html
        assert "grade <strong>B</strong>, 2 regressions" in html
    finally:
        freshness.clear()

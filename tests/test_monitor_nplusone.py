"""N+1 detection: the example project's N+1 view is found, its fixed twin is not."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from django_dbopt import signals
from django_dbopt.monitor import scope
from django_dbopt.monitor.capture import FINDINGS
from example_project.demo.factories import ProjectFactory, TaskFactory, UserFactory
from example_project.demo.models import Project, Task, User
from tests.monitor_fixtures import MIDDLEWARE_PATH, fresh_monitor, monitor_config  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_monitor")]


@pytest.fixture
def findings() -> Any:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    signals.nplusone_detected.connect(receiver)
    yield received
    signals.nplusone_detected.disconnect(receiver)


def monitored(**monitor: Any) -> Any:
    from django.conf import settings

    return override_settings(
        MIDDLEWARE=[MIDDLEWARE_PATH, *settings.MIDDLEWARE],
        DBOPT=monitor_config(**{"nplusone_min_total_ms": 0, **monitor}),
    )


def test_finds_the_nplusone_view_with_call_site_and_hints(
    client: Client, findings: list[dict[str, Any]]
) -> None:
    TaskFactory.create_batch(12)
    with monitored():
        assert client.get(reverse("demo:tasks_nplusone")).status_code == 200
    by_hint = {f["hint"]: f for f in findings}
    assert set(by_hint) == {
        "demo.Task: use select_related('project')",
        "demo.Task: use select_related('assigned_to')",
    }
    for finding in findings:
        assert finding["view"] == "demo:tasks_nplusone"
        assert finding["call_site"].startswith("example_project/demo/views.py:")
        assert finding["call_site"].endswith("in tasks_nplusone")
        assert finding["count"] >= 12
    assert len(FINDINGS) == 2
    held = next(iter(FINDINGS))
    assert held.stack[0] == held.call_site


def test_silent_on_the_fixed_twin(client: Client, findings: list[dict[str, Any]]) -> None:
    TaskFactory.create_batch(12)
    with monitored():
        assert client.get(reverse("demo:tasks_fixed")).status_code == 200
    assert findings == []
    assert len(FINDINGS) == 0


@pytest.mark.django_db(transaction=True)
def test_async_request_path_finds_it_too(findings: list[dict[str, Any]]) -> None:
    import asyncio

    from asgiref.sync import sync_to_async
    from django.db import connections
    from django.test import AsyncClient

    TaskFactory.create_batch(8)

    async def fetch() -> int:
        try:
            response = await AsyncClient().get(reverse("demo:tasks_nplusone"))
        finally:
            await sync_to_async(connections.close_all)()
        return response.status_code

    with monitored():
        assert asyncio.run(fetch()) == 200
    assert len(findings) == 2


def test_thresholds_on_count_and_summed_time(findings: list[dict[str, Any]]) -> None:
    projects = ProjectFactory.create_batch(6)
    with monitored(nplusone_min_count=7), scope("few"):
        for project in projects:
            Project.objects.get(pk=project.pk)
    assert findings == []
    with monitored(nplusone_min_count=5, nplusone_min_total_ms=60_000), scope("fast"):
        for project in projects:
            Project.objects.get(pk=project.pk)
    assert findings == []
    with monitored(nplusone_min_count=5), scope("enough"):
        for project in projects:
            Project.objects.get(pk=project.pk)
    assert [f["count"] for f in findings] == [6]
    assert findings[0]["hint"] is None  # not a lazy relation: no hint to give


def test_interleaved_patterns_are_each_found(findings: list[dict[str, Any]]) -> None:
    """Other work between the repeats does not hide them (unlike consecutive-run detectors)."""
    tasks = TaskFactory.create_batch(7)
    with monitored(), scope("interleaved"):
        for task in Task.objects.filter(pk__in=[t.pk for t in tasks]):
            _ = task.project.name
            Project.objects.exists()  # other work in between, itself repeated
            _ = task.assigned_to
    hints = sorted(str(f["hint"]) for f in findings)
    assert hints == [
        "None",
        "demo.Task: use select_related('assigned_to')",
        "demo.Task: use select_related('project')",
    ]


def test_reverse_relation_gets_a_prefetch_hint(findings: list[dict[str, Any]]) -> None:
    for user in UserFactory.create_batch(6):
        ProjectFactory(owner=user)
    with monitored(), scope("reverse"):
        for user in User.objects.all():
            list(user.projects.all())
    assert [f["hint"] for f in findings] == ["demo.User: use prefetch_related('projects')"]


def test_same_shape_from_different_lines_is_not_an_nplusone(
    findings: list[dict[str, Any]],
) -> None:
    user = UserFactory()
    with monitored(nplusone_min_count=3), scope("distinct"):
        User.objects.get(pk=user.pk)
        User.objects.get(pk=user.pk)
        User.objects.get(pk=user.pk)
        User.objects.get(pk=user.pk)
        User.objects.get(pk=user.pk)
    assert findings == []


def test_findings_are_merged_per_call_site_until_flushed(client: Client) -> None:
    TaskFactory.create_batch(6)
    with monitored():
        for _ in range(4):
            client.get(reverse("demo:tasks_nplusone"))
    held = sorted(FINDINGS, key=lambda f: f.fingerprint)
    assert len(held) == 2
    assert [f.occurrences for f in held] == [4, 4]
    assert all(f.count == 6 for f in held)


def test_many_to_many_gets_a_prefetch_hint(findings: list[dict[str, Any]]) -> None:
    UserFactory.create_batch(6)
    with monitored(), scope("m2m"):
        for user in User.objects.all():
            list(user.groups.all())
    assert [f["hint"] for f in findings] == ["demo.User: use prefetch_related('groups')"]


@pytest.mark.parametrize(("debug", "reported"), [(True, True), (False, False)])
def test_under_debug_repeats_alone_make_an_nplusone(
    client: Client, findings: list[dict[str, Any]], debug: bool, reported: bool
) -> None:
    """30 tasks reading ``task.project``: quick queries, far under the summed-time
    threshold. Under ``DEBUG = True`` the repeat count alone reports it (what nplusone
    does); in production the time threshold still applies."""
    TaskFactory.create_batch(30)
    with monitored(nplusone_min_total_ms=60_000), override_settings(DEBUG=debug):
        assert client.get(reverse("demo:tasks_nplusone")).status_code == 200
    assert bool(findings) is reported

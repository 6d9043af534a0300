"""The test helpers users put in their own suites."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from django_dbopt.monitor.fingerprint import fingerprint
from django_dbopt.monitor.pytest_plugin import no_nplusone, query_budget  # noqa: F401
from django_dbopt.monitor.testing import Watch, assert_no_nplusone, watch
from django_dbopt.monitor.testing import query_budget as budget
from example_project.demo.factories import TaskFactory
from example_project.demo.models import Task

pytestmark = pytest.mark.django_db


def test_budget_passes_within_and_fails_over_with_the_queries_listed(client: Client) -> None:
    TaskFactory.create_batch(5)
    with budget(max_queries=3):
        client.get(reverse("demo:tasks_fixed"))
    with (
        pytest.raises(AssertionError, match=r"queries ran, the budget is 3") as failure,
        budget(max_queries=3),
    ):
        client.get(reverse("demo:tasks_nplusone"))
    assert '5 x SELECT "projects"' in str(failure.value)


def test_time_budget() -> None:
    TaskFactory.create_batch(2)
    with pytest.raises(AssertionError, match=r"the budget is 0\.0 ms"), budget(max_ms=0.0):
        list(Task.objects.all())


def test_no_nplusone_names_call_site_and_hint(client: Client) -> None:
    TaskFactory.create_batch(3)
    with assert_no_nplusone():
        client.get(reverse("demo:tasks_fixed"))
    with (
        pytest.raises(AssertionError, match=r"N\+1 queries detected") as failure,
        assert_no_nplusone(),
    ):
        client.get(reverse("demo:tasks_nplusone"))
    message = str(failure.value)
    assert "example_project/demo/views.py" in message
    assert "select_related('project')" in message
    assert "select_related('assigned_to')" in message


def test_helpers_use_production_fingerprints() -> None:
    TaskFactory()
    with watch() as seen:
        Task.objects.filter(pk__in=[1, 2, 3]).count()
        Task.objects.filter(pk__in=[4]).count()
    ((count, sql),) = seen.counts.values()
    assert count == 2
    assert fingerprint(sql).sql == sql
    assert "IN (...)" in sql


def test_pytest_fixtures(query_budget, no_nplusone: Watch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with query_budget(max_queries=1):
        list(Task.objects.select_related("project"))
    assert no_nplusone.queries == 1

"""``cached`` / ``cache_queryset``: tags, tables, stampede protection, against real Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_dbopt.cache import cache_queryset, cached, invalidate_tables, invalidate_tags
from django_dbopt.cache.state import CacheState
from example_project.demo.models import Project, User
from tests.cache_fixtures import caches_setting
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

calls: list[str] = []


@pytest.fixture
def st(services: Any) -> Iterator[CacheState]:
    dbopt = {"CACHE": {"TRACK_MODELS": ["demo.Project"], "STAMPEDE_WAIT_S": 2.0}}
    with override_settings(CACHES=caches_setting(), DBOPT=dbopt):
        backend = caches["default"]
        assert backend.state.wait_l1(30)
        backend.clear()
        calls.clear()
        yield backend.state


@cached(60, tags=["greeting"])
def greet(name: str) -> dict[str, str]:
    calls.append(name)
    return {"hello": name}


@cached(60, tables=["projects"])
def project_names() -> list[str]:
    calls.append("names")
    return list(Project.objects.order_by("name").values_list("name", flat=True))


def test_cached_function_is_computed_once_per_arguments(st: CacheState) -> None:
    assert greet("ann") == {"hello": "ann"}
    value = greet("ann")
    value["hello"] = "mutated"
    assert greet("ann") == {"hello": "ann"}
    assert greet("bob") == {"hello": "bob"}
    assert calls == ["ann", "bob"]
    assert st.stats.snapshot()["l1.hits"] >= 2


def test_tag_invalidation_reaches_l1_and_l2(st: CacheState) -> None:
    greet("ann")
    assert invalidate_tags("greeting") is True
    greet("ann")
    st.l1.clear()
    greet("ann")  # from L2 under the new generation
    assert calls == ["ann", "ann"]


def test_table_writes_invalidate(st: CacheState) -> None:
    owner = User.objects.create_user(email="t@example.com", password="x")
    assert project_names() == []
    Project.objects.create(name="p1", owner=owner)
    assert project_names() == ["p1"]
    assert project_names() == ["p1"]
    invalidate_tables(["projects"])
    project_names()
    assert calls == ["names", "names", "names"]


def test_untracked_tables_are_refused(st: CacheState) -> None:
    @cached(tables=["audit_logs"])
    def logs() -> int:
        return 1

    with pytest.raises(ImproperlyConfigured, match="E032"):
        logs()


def test_cache_queryset(st: CacheState) -> None:
    owner = User.objects.create_user(email="q@example.com", password="x")
    Project.objects.create(name="a", owner=owner)
    qs = Project.objects.filter(owner=owner).order_by("name")
    assert [p.name for p in cache_queryset(qs)] == ["a"]
    Project.objects.create(name="b", owner=owner)
    assert [p.name for p in cache_queryset(qs)] == ["a", "b"]


def _race(fn: Any, n: int = 4) -> list[Any]:
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(fn())) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results


@cached(60, tags=["slow"])
def slow(seconds: float) -> str:
    calls.append("slow")
    time.sleep(seconds)
    return "done"


def test_stampede_one_computes_others_wait(st: CacheState) -> None:
    assert _race(lambda: slow(0.3)) == ["done"] * 4
    assert calls == ["slow"]


_release = threading.Event()


@cached(60, tags=["slow"])
def blocked() -> str:
    """Computes until released: only a caller that gave up waiting adds a second call."""
    calls.append("blocked")
    assert _release.wait(60)
    return "done"


def test_stampede_waiters_give_up_after_the_bound(services: Any) -> None:
    dbopt = {"CACHE": {"STAMPEDE_WAIT_S": 0.05}}
    with override_settings(CACHES=caches_setting(), DBOPT=dbopt):
        caches["default"].clear()
        calls.clear()
        _release.clear()
        results: list[Any] = []
        threads = [threading.Thread(target=lambda: results.append(blocked())) for _ in range(3)]
        for t in threads:
            t.start()
        try:  # nobody finishes before all three computed: each waiter gave up by itself
            wait_until(lambda: len(calls) == 3, 30, what="the waiters to give up and compute")
        finally:
            _release.set()
            for t in threads:
                t.join(30)
        assert results == ["done"] * 3
        assert calls == ["blocked"] * 3

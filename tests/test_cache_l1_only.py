"""L1-only mode: a ``TwoTierCache`` with no L2 alias (the embedded default, issue 10).

Everything stays in the process: the Django cache API, automatic ORM caching and its
invalidation by every write path, ``@cached``. No Redis is needed, so these tests run in
the SQLite pass too."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_dbopt.cache import cached, invalidate_tags
from django_dbopt.cache.backend import TwoTierCache
from django_dbopt.cache.checks import check_cache
from django_dbopt.cache.report import stats
from example_project.demo.models import Project, User

pytestmark = pytest.mark.django_db(transaction=True)


def l1_only(**options: Any) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django_dbopt.cache.TwoTierCache",
            "LOCATION": "l1only",
            "OPTIONS": {"L2": None, **options},
        }
    }


@pytest.fixture
def cache() -> Iterator[TwoTierCache]:
    dbopt = {"CACHE": {"ORM_MODELS": ["demo"]}}
    with override_settings(CACHES=l1_only(), DBOPT=dbopt):
        backend = caches["default"]
        assert isinstance(backend, TwoTierCache)
        backend.clear()
        yield backend
        backend.clear()


def queries(fn: Any) -> tuple[Any, int]:
    with CaptureQueriesContext(connection) as ctx:
        value = fn()
    return value, len(ctx.captured_queries)


def test_the_cache_api_works_in_process(cache: TwoTierCache) -> None:
    assert cache.get("missing", "d") == "d"
    cache.set("k", {"a": 1})
    got = cache.get("k")
    got["a"] = 2  # a copy: the next caller is not affected
    assert cache.get("k") == {"a": 1}
    assert cache.add("k", "other") is False
    assert cache.add("new", "v") is True
    assert cache.get_many(["k", "new", "nope"]) == {"k": {"a": 1}, "new": "v"}
    assert cache.set_many({"x": 1, "y": "two"}) == []
    assert cache.incr("x", 5) == 6
    assert cache.decr("x") == 5
    with pytest.raises(ValueError, match="not found"):
        cache.incr("nope")
    assert cache.has_key("y")
    assert cache.touch("y", 0) is True
    assert not cache.has_key("y")
    cache.set("forever", 1, None)
    assert cache.delete("forever") is True
    assert cache.delete("forever") is False
    cache.set("gone", 1, 0)
    assert cache.get("gone") is None
    cache.clear()
    assert cache.get("k") is None
    counters = cache.state.stats.snapshot()
    assert counters.get("l2.errors", 0) == 0  # nothing tried to reach a Redis


def test_orm_reads_are_cached_and_every_write_invalidates(cache: TwoTierCache) -> None:
    owner = User.objects.create_user(email="l1@example.com", password="x")
    project = Project.objects.create(name="one", owner=owner)
    assert queries(lambda: Project.objects.get(pk=project.pk).name) == ("one", 1)
    assert queries(lambda: Project.objects.get(pk=project.pk).name) == ("one", 0)
    listed = lambda: [p.name for p in Project.objects.filter(owner=owner)]  # noqa: E731
    assert queries(listed) == (["one"], 1)
    assert queries(listed) == (["one"], 0)
    counted = lambda: Project.objects.filter(owner=owner).count()  # noqa: E731
    assert queries(counted) == (1, 1)
    assert queries(counted) == (1, 0)
    project.name = "two"
    project.save()
    assert queries(lambda: Project.objects.get(pk=project.pk).name) == ("two", 1)
    Project.objects.filter(pk=project.pk).update(name="three")
    assert queries(listed) == (["three"], 1)
    Project.objects.create(name="four", owner=owner)
    assert queries(counted) == (2, 1)
    assert cache.state.stats.snapshot()["table.projects.hits"] >= 3


calls: list[str] = []


@cached(60, tags=["greeting"])
def greet(name: str) -> str:
    calls.append(name)
    return f"hello {name}"


def test_cached_functions_and_tags(cache: TwoTierCache) -> None:
    calls.clear()
    assert greet("ann") == greet("ann") == "hello ann"
    assert calls == ["ann"]
    assert invalidate_tags("greeting") is True
    assert greet("ann") == "hello ann"
    assert calls == ["ann", "ann"]


def test_l1_stays_within_its_byte_bound() -> None:
    with override_settings(CACHES=l1_only(L1_MAX_BYTES=20_000)):
        backend = caches["default"]
        for i in range(100):
            backend.set(f"k{i}", "x" * 1000)
        assert backend.state.l1.bytes_used <= 20_000
        assert backend.state.l1.evictions > 0
        assert backend.get("k99") == "x" * 1000
        backend.clear()


def test_stats_and_the_clear_command_say_l1_only(cache: TwoTierCache) -> None:
    cache.set("k", 1)
    cache.get("k")
    data = stats()
    assert data["mode"] == "l1_only"
    assert data["redis"] == "none"
    assert data["process"]["tiers"]["l1"]["hits"] >= 1
    out = StringIO()
    call_command("dbopt_cache", "clear", stdout=out)
    assert "L1 only" in out.getvalue()
    assert cache.get("k") is None


def test_checks_accept_l1_only_and_refuse_it_without_memory() -> None:
    with override_settings(CACHES=l1_only()):
        assert check_cache() == []
    with override_settings(CACHES=l1_only(L1_MAX_BYTES=0)):
        assert [m.id for m in check_cache()] == ["django_dbopt.E037"]

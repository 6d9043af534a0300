"""``manage.py dbopt_cache`` against real Redis and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_dbopt.cache import generations
from django_dbopt.cache.state import CacheState
from example_project.demo.models import Project, User
from tests.cache_fixtures import caches_setting, orm_settings

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

warmed: list[str] = []


def warm_projects(using: str) -> int:
    warmed.append(using)
    return len(list(Project.objects.using(using).all()))


@pytest.fixture
def st(services: Any) -> Iterator[CacheState]:
    dbopt = orm_settings(WARM=["tests.test_cache_command.warm_projects"])
    with override_settings(CACHES=caches_setting(), DBOPT=dbopt):
        backend = caches["default"]
        assert backend.state.wait_l1(30)
        backend.clear()
        yield backend.state


def run(*args: str) -> str:
    out = StringIO()
    call_command("dbopt_cache", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_stats_show_measured_numbers(st: CacheState) -> None:
    owner = User.objects.create_user(email="s@example.com", password="x")
    project = Project.objects.create(name="s", owner=owner)
    for _ in range(3):
        Project.objects.get(pk=project.pk)
    data = json.loads(run("stats", "--format", "json"))
    assert data["redis"] == "up"
    everyone = data["all_processes"]["tables"]["projects"]
    assert everyone["misses"] >= 1
    assert everyone["hits"] >= 2
    assert 0 < everyone["hit_ratio"] < 1
    assert everyone["bytes_served"] > 0
    text = run("stats")
    assert "projects:" in text
    assert "hit ratio" in text


def test_stats_say_no_data_when_nothing_was_measured(st: CacheState) -> None:
    from django_dbopt.cache.report import reset_stats

    reset_stats()
    assert "no data" in run("stats")


def test_invalidate_tables_models_and_tags(st: CacheState) -> None:
    key = generations.table_key(st, "projects")
    before = int(generations.fetch(st, [key])[0])
    assert "Would invalidate" in run("invalidate", "--table", "projects", "--dry-run")
    assert int(generations.fetch(st, [key])[0]) == before
    assert "Invalidated" in run("invalidate", "--model", "demo.Project", "--tag", "x")
    assert int(generations.fetch(st, [key])[0]) == before + 1
    result = json.loads(run("invalidate", "--table", "projects", "--format", "json"))
    assert result["written"] is True


@pytest.mark.parametrize(
    "args",
    [
        ("invalidate",),
        ("invalidate", "--model", "demo.Nope"),
        ("invalidate", "--table", "django_migrations"),
        ("stats", "--cache", "redis"),
        ("bogus",),
    ],
)
def test_bad_arguments_are_command_errors(st: CacheState, args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError):
        run(*args)


def test_clear(st: CacheState) -> None:
    caches["default"].set("k", 1)
    assert "Would clear" in run("clear", "--dry-run")
    assert caches["default"].get("k") == 1
    assert "Cleared" in run("clear")
    assert caches["default"].get("k") is None


def test_warm_runs_the_configured_callables(st: CacheState) -> None:
    warmed.clear()
    owner = User.objects.create_user(email="w@example.com", password="x")
    Project.objects.create(name="w", owner=owner)
    assert "warm_projects" in run("warm", "--database", "default")
    assert warmed == ["default"]
    # as in a process that starts after the warming: L1 cold, and nothing measured yet
    # that could make its lookups skip L2 (this one measured the warming's first round trip)
    st.l1.clear()
    st.forget_lookups()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert [p.name for p in Project.objects.all()] == ["w"]
    assert len(ctx.captured_queries) == 0  # served from L2, warmed by the command


preloaded: list[int] = []


def preload_tasks(user: User) -> None:
    preloaded.append(user.pk)
    list(Project.objects.filter(owner=user))


def test_login_preloads_the_users_data(services: Any) -> None:
    from django.test import Client

    dbopt = orm_settings(PRELOAD_ON_LOGIN=["tests.test_cache_command.preload_tasks"])
    with override_settings(CACHES=caches_setting(), DBOPT=dbopt):
        assert caches["default"].state.wait_l1(30)
        user = User.objects.create_user(email="login@example.com", password="pw")
        Project.objects.create(name="mine", owner=user)
        preloaded.clear()
        assert Client().login(email="login@example.com", password="pw")
        assert preloaded == [user.pk]
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert [p.name for p in Project.objects.filter(owner=user)] == ["mine"]
        assert len(ctx.captured_queries) == 0


def test_clear_fails_when_redis_was_never_reached(services: Any) -> None:
    """Issue 10: "Cleared" and exit 0 while Redis was unreachable. Now a CommandError
    saying so, and what was cleared (this process's L1 only)."""
    unreachable = caches_setting("unreachable")
    unreachable["redis"]["LOCATION"] = "redis://127.0.0.1:9/0"  # nothing listens there
    with override_settings(CACHES=unreachable):
        caches["default"].state.l1.set("k", b"\xa0x")
        with pytest.raises(CommandError, match="unreachable") as raised:
            run("clear")
        assert "L1" in str(raised.value)
        assert len(caches["default"].state.l1) == 0  # this process's L1 was cleared

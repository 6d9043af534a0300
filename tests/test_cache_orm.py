"""Automatic ORM caching against the real PostgreSQL primary, standby and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection, connections, models, transaction
from django.db.models.functions import Now
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_dbopt.cache import generations
from django_dbopt.cache.backend import TwoTierCache
from django_dbopt.cache.state import CacheState
from example_project.demo.models import Project, User
from tests.cache_fixtures import caches_setting, orm_settings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


@pytest.fixture
def st(services: Any) -> Iterator[CacheState]:
    with override_settings(CACHES=caches_setting(), DBOPT=orm_settings(["demo", "auth.Group"])):
        backend = caches["default"]
        assert isinstance(backend, TwoTierCache)
        assert backend.state.wait_l1(30)
        backend.clear()
        yield backend.state
        backend.state.outbox.flush()
        backend.clear()


def queries(fn: Any) -> tuple[Any, int]:
    with CaptureQueriesContext(connection) as ctx:
        value = fn()
    return value, len(ctx.captured_queries)


@pytest.fixture
def owner() -> User:
    return User.objects.create_user(email="owner@example.com", password="x")


def test_get_by_pk_is_served_from_cache_until_saved(st: CacheState, owner: User) -> None:
    project = Project.objects.create(name="one", owner=owner)
    first, n = queries(lambda: Project.objects.get(pk=project.pk))
    assert (first.name, n) == ("one", 1)
    again, n = queries(lambda: Project.objects.get(pk=project.pk))
    assert (again.name, n) == ("one", 0)
    assert st.stats.snapshot()["table.projects.hits"] >= 1
    project.name = "two"
    project.save()
    fresh, n = queries(lambda: Project.objects.get(pk=project.pk))
    assert (fresh.name, n) == ("two", 1)


def test_l2_serves_when_l1_is_cold(st: CacheState, owner: User) -> None:
    project = Project.objects.create(name="cold", owner=owner)
    Project.objects.get(pk=project.pk)
    st.outbox.flush()
    st.l1.clear()  # as in a fresh process
    st.forget_lookups()
    _, n = queries(lambda: Project.objects.get(pk=project.pk))
    assert n == 0
    assert st.stats.snapshot()["l2.hits"] >= 1


def _names() -> list[str]:
    return list(Project.objects.order_by("name").values_list("name", flat=True))


def _assert_invalidated_by(write: Any, expected: list[str]) -> None:
    assert queries(_names)[1] == 0  # cached before the write
    write()
    names, n = queries(_names)
    assert (names, n) == (expected, 1)


@pytest.fixture
def two_projects(st: CacheState, owner: User) -> list[Project]:
    projects = [Project.objects.create(name=n, owner=owner) for n in ("a", "b")]
    _names()
    return projects


def test_update_invalidates(two_projects: list[Project]) -> None:
    _assert_invalidated_by(lambda: Project.objects.filter(name="a").update(name="c"), ["b", "c"])


def test_delete_invalidates(two_projects: list[Project]) -> None:
    _assert_invalidated_by(lambda: two_projects[0].delete(), ["b"])


def test_queryset_delete_invalidates(two_projects: list[Project]) -> None:
    _assert_invalidated_by(lambda: Project.objects.filter(name="b").delete(), ["a"])


def test_bulk_create_invalidates(two_projects: list[Project], owner: User) -> None:
    _assert_invalidated_by(
        lambda: Project.objects.bulk_create([Project(name="z", owner=owner)]), ["a", "b", "z"]
    )


def test_bulk_update_invalidates(two_projects: list[Project]) -> None:
    def write() -> None:
        two_projects[1].name = "y"
        Project.objects.bulk_update([two_projects[1]], ["name"])

    _assert_invalidated_by(write, ["a", "y"])


def test_raw_sql_write_invalidates(two_projects: list[Project]) -> None:
    def write() -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE projects SET name = %s WHERE name = %s", ["x", "a"])

    _assert_invalidated_by(write, ["b", "x"])


def test_schema_change_from_a_migration_invalidates(two_projects: list[Project]) -> None:
    index = models.Index(fields=["name"], name="projects_name_tmp_idx")

    def write() -> None:
        with connection.schema_editor() as editor:
            editor.add_index(Project, index)
        with connection.schema_editor() as editor:
            editor.remove_index(Project, index)

    _assert_invalidated_by(write, ["a", "b"])


def test_flush_invalidates(two_projects: list[Project]) -> None:
    _assert_invalidated_by(lambda: call_command("flush", interactive=False, verbosity=0), [])


def test_m2m_changes_invalidate(st: CacheState, owner: User) -> None:
    group = Group.objects.create(name="staff")

    def groups() -> list[str]:
        return list(User.objects.get(pk=owner.pk).groups.values_list("name", flat=True))

    assert groups() == []
    assert queries(groups)[1] == 0
    owner.groups.add(group)
    assert queries(groups) == (["staff"], 1)  # the user row is still cached
    assert queries(groups)[1] == 0
    owner.groups.remove(group)
    assert queries(groups) == ([], 1)


def test_transaction_reads_after_a_write_are_not_cached_and_commit_bumps_again(
    st: CacheState, owner: User
) -> None:
    project = Project.objects.create(name="t", owner=owner)
    key = generations.table_key(st, "projects")
    before = int(st.tier.client.get(key) or 0)
    with transaction.atomic():
        Project.objects.filter(pk=project.pk).update(name="inside")
        at_write = int(st.tier.client.get(key))
        assert at_write == before + 1
        for _ in range(2):
            seen, n = queries(lambda: Project.objects.get(pk=project.pk).name)
            assert (seen, n) == ("inside", 1)
    assert int(st.tier.client.get(key)) == at_write + 1
    assert queries(lambda: Project.objects.get(pk=project.pk).name) == ("inside", 1)


def test_rollback_publishes_nothing_after_the_write(st: CacheState, owner: User) -> None:
    project = Project.objects.create(name="kept", owner=owner)
    key = generations.table_key(st, "projects")
    Project.objects.get(pk=project.pk)
    at_write = []

    def write_then_fail() -> None:
        with transaction.atomic():
            Project.objects.filter(pk=project.pk).update(name="rolled back")
            at_write.append(int(st.tier.client.get(key)))
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert int(st.tier.client.get(key)) == at_write[0]
    assert Project.objects.get(pk=project.pk).name == "kept"
    assert queries(lambda: Project.objects.get(pk=project.pk).name) == ("kept", 0)


def test_uncacheable_queries_always_reach_the_database(st: CacheState, owner: User) -> None:
    Project.objects.create(name="p", owner=owner)
    cases = {
        "select_for_update": lambda: list(Project.objects.select_for_update().all()),
        "iterator": lambda: list(Project.objects.iterator()),
        "now()": lambda: list(Project.objects.filter(created_at__lte=Now())),
        "not opted in": lambda: list(Permission_names()),
    }
    for name, fn in cases.items():
        with transaction.atomic():
            fn()
            assert queries(fn)[1] == 1, name


def Permission_names() -> list[str]:
    from django.contrib.auth.models import Permission

    return list(Permission.objects.values_list("codename", flat=True)[:3])


def test_results_above_the_size_limit_are_not_cached(services: Any, owner: User) -> None:
    settings = orm_settings(ORM_MAX_RESULT_BYTES=200)
    with override_settings(CACHES=caches_setting(), DBOPT=settings):
        assert caches["default"].state.wait_l1(30)
        Project.objects.bulk_create([Project(name="n" * 50, owner=owner) for _ in range(10)])
        list(Project.objects.all())
        assert queries(lambda: list(Project.objects.all()))[1] == 1
        Project.objects.filter(pk=0).first()
        assert queries(lambda: Project.objects.filter(pk=0).first())[1] == 0


def test_primary_and_replica_share_entries(st: CacheState, owner: User, services: Any) -> None:
    project = Project.objects.create(name="shared", owner=owner)
    services.wait_for_replica()
    Project.objects.get(pk=project.pk)
    with CaptureQueriesContext(connections["replica"]) as ctx:
        assert Project.objects.using("replica").get(pk=project.pk).name == "shared"
    assert len(ctx.captured_queries) == 0


def test_generations_survive_a_redis_restart(
    st: CacheState, controllable_services: Any, owner: User
) -> None:
    keys = generations.gen_keys(st, tables=["projects"])
    for _ in range(3):
        assert generations.bump(st, keys)
    before = int(generations.fetch(st, keys)[0])
    controllable_services.stop_redis()
    try:
        assert Project.objects.create(name="while down", owner=owner).pk
        assert st.pending  # the bump could not be written
    finally:
        controllable_services.start_redis()
    st.tier.breaker.reset()
    after = int(generations.fetch(st, keys)[0])
    assert after > before
    assert generations.writable(st)
    assert not st.pending


def test_repeatable_read_transactions_are_not_cached(st: CacheState, owner: User) -> None:
    from psycopg import IsolationLevel

    project = Project.objects.create(name="rr", owner=owner)
    Project.objects.get(pk=project.pk)
    level = connection.isolation_level
    connection.isolation_level = IsolationLevel.REPEATABLE_READ
    try:
        with transaction.atomic():
            assert queries(lambda: Project.objects.get(pk=project.pk).name) == ("rr", 1)
    finally:
        connection.isolation_level = level
    with transaction.atomic():  # READ COMMITTED: served from the cache
        assert queries(lambda: Project.objects.get(pk=project.pk).name) == ("rr", 0)


def test_demo_pages_render_the_same_from_the_cache(st: CacheState) -> None:
    from django.test import Client
    from django.urls import reverse

    from example_project.demo.factories import AuditLogFactory, TaskFactory
    from example_project.demo.models import AuditLog
    from tests.test_example_project import PAGES

    TaskFactory.create_batch(5)
    AuditLogFactory(action=AuditLog.Action.LOGIN, result=AuditLog.Result.FAILURE)
    client = Client()
    for name, query in PAGES:
        first = client.get(reverse(name), query)
        with CaptureQueriesContext(connection) as ctx:
            second = client.get(reverse(name), query)
        assert first.status_code == second.status_code == 200, name
        assert first.content == second.content, name
        # login_lookup passes timezone.now() as a parameter: a new key every request
        expected = 1 if name == "demo:login_lookup" else 0
        assert len(ctx.captured_queries) == expected, (name, ctx.captured_queries)
    assert st.stats.snapshot()["l1.hits"] > 0


def test_replica_reads_never_fill_the_cache(st: CacheState, owner: User, services: Any) -> None:
    """A lagging replica could return pre-commit rows after the commit's bump."""
    project = Project.objects.create(name="lagging", owner=owner)
    services.wait_for_replica()
    replica = connections["replica"]
    reads = [
        lambda: Project.objects.using("replica").get(pk=project.pk),
        lambda: list(Project.objects.using("replica").filter(owner=owner)),
        lambda: Project.objects.using("replica").filter(owner=owner).count(),
    ]
    for read in reads:
        for _ in range(2):
            with CaptureQueriesContext(replica) as ctx:
                read()
            assert len(ctx.captured_queries) == 1
    Project.objects.get(pk=project.pk)  # a primary read fills the entry...
    with CaptureQueriesContext(replica) as ctx:
        assert Project.objects.using("replica").get(pk=project.pk).name == "lagging"
    assert len(ctx.captured_queries) == 0  # ...which replica reads then share

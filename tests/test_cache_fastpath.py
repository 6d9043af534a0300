"""Reads keyed before SQL compilation, only when provably safe: the ``get(pk=...)`` fast
path (``fastpath.py``) and simple querysets (``listpath.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection, connections
from django.db.models import signals
from django.db.models.functions import Length, Upper
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_dbopt.cache.state import CacheState
from example_project.demo.models import Project, User
from tests.cache_fixtures import caches_setting, orm_settings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


@pytest.fixture
def st(services: Any) -> Iterator[CacheState]:
    with override_settings(CACHES=caches_setting(), DBOPT=orm_settings()):
        backend = caches["default"]
        assert backend.state.wait_l1(30)
        backend.clear()
        yield backend.state
        backend.clear()


@pytest.fixture
def project(st: CacheState) -> Project:
    owner = User.objects.create_user(email="fp@example.com", password="x")
    return Project.objects.create(name="fast", owner=owner)


def kinds(st: CacheState) -> set[str]:
    """Which kinds of ORM entries L1 holds: "pkrow", "lsrow" (keyed before compilation)
    or "q" (SQL level)."""
    return {key.split(":")[2] for key in st.l1._data if key.count(":") > 3}


def count(fn: Any, alias: str = "default") -> int:
    with CaptureQueriesContext(connections[alias]) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_get_by_pk_uses_the_fast_path(st: CacheState, project: Project) -> None:
    st.l1.clear()
    for lookup in ({"pk": project.pk}, {"id": project.pk}, {"pk__exact": str(project.pk)}):
        assert Project.objects.get(**lookup).name == "fast"
    assert kinds(st) == {"pkrow"}
    assert count(lambda: Project.objects.get(pk=project.pk)) == 0
    got = Project.objects.get(pk=project.pk)
    assert got._state.db == "default"
    assert got._state.adding is False
    got.name = "mutated"
    assert Project.objects.get(pk=project.pk).name == "fast"
    got.save()
    assert Project.objects.get(pk=project.pk).name == "mutated"


def test_missing_rows_are_cached_until_a_write(st: CacheState, project: Project) -> None:
    missing = project.pk + 1000
    for _ in range(2):
        with pytest.raises(Project.DoesNotExist):
            Project.objects.get(pk=missing)
    with CaptureQueriesContext(connection) as ctx, pytest.raises(Project.DoesNotExist):
        Project.objects.get(pk=missing)
    assert len(ctx.captured_queries) == 0
    Project.objects.create(pk=missing, name="now here", owner=project.owner)
    assert Project.objects.get(pk=missing).name == "now here"


def test_modified_querysets_take_the_sql_level_path(st: CacheState, project: Project) -> None:
    for build in (
        lambda: Project.objects.select_related("owner"),
        lambda: Project.objects.only("name"),
        lambda: Project.objects.annotate(n=Length("name")),
    ):
        st.l1.clear()
        build().get(pk=project.pk)
        assert kinds(st) == {"q"}
        assert count(lambda b=build: b().get(pk=project.pk)) == 0


def test_models_with_post_init_receivers_skip_the_fast_path(
    st: CacheState, project: Project
) -> None:
    seen: list[Any] = []

    def receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
        seen.append(instance)

    signals.post_init.connect(receiver, sender=Project)
    try:
        st.l1.clear()
        Project.objects.get(pk=project.pk)
        Project.objects.get(pk=project.pk)
        assert kinds(st) == {"q"}
        assert len(seen) == 2  # every instance was initialised, cached or not
    finally:
        signals.post_init.disconnect(receiver, sender=Project)


def test_replica_reads_share_the_entry_and_know_their_alias(
    st: CacheState, project: Project, services: Any
) -> None:
    services.wait_for_replica()
    Project.objects.get(pk=project.pk)
    got = None

    def read() -> None:
        nonlocal got
        got = Project.objects.using("replica").get(pk=project.pk)

    assert count(read, "replica") == 0
    assert got is not None
    assert got._state.db == "replica"


def names(qs: Any) -> list[str]:
    return [p.name for p in qs]


def test_simple_lists_are_keyed_from_the_built_query(st: CacheState, project: Project) -> None:
    owner = project.owner
    Project.objects.create(name="second", owner=owner)
    cases = [
        (lambda: Project.objects.filter(owner_id=owner.pk).order_by("id"), ["fast", "second"]),
        (lambda: Project.objects.filter(owner=owner).order_by("-name"), ["second", "fast"]),
        (lambda: Project.objects.filter(owner__email=owner.email).order_by("name"), None),
        (lambda: Project.objects.filter(name__in=["fast", "x"]), ["fast"]),
        (lambda: Project.objects.exclude(name="fast"), ["second"]),
        (lambda: Project.objects.order_by("name")[:1], ["fast"]),
        (lambda: Project.objects.order_by("name")[1:2], ["second"]),
    ]
    for build, expected in cases:
        st.l1.clear()
        first = names(build())
        assert first == (expected or ["fast", "second"])
        assert kinds(st) == {"lsrow"}, build
        assert count(lambda b=build: names(b())) == 0
        assert names(build()) == first


def test_list_entries_are_invalidated_by_writes_to_every_table_read(
    st: CacheState, project: Project
) -> None:
    owner = project.owner

    def by_email() -> list[str]:
        return names(Project.objects.filter(owner__email="fp@example.com"))

    assert by_email() == ["fast"]
    assert count(by_email) == 0
    User.objects.filter(pk=owner.pk).update(email="moved@example.com")  # the joined table
    assert by_email() == []
    Project.objects.filter(pk=project.pk).update(name="renamed")
    assert names(Project.objects.filter(owner=owner)) == ["renamed"]


def test_other_querysets_take_the_sql_level_path(st: CacheState, project: Project) -> None:
    for build in (
        lambda: Project.objects.order_by("owner__email"),
        lambda: Project.objects.filter(created_at__date=project.created_at.date()),
        lambda: Project.objects.filter(name=Upper("name")),
        lambda: Project.objects.select_related("owner"),
        lambda: Project.objects.filter(owner__in=User.objects.all()),
    ):
        st.l1.clear()
        list(build())
        assert kinds(st) == {"q"}, build
        assert count(lambda b=build: list(b())) == 0


def test_list_instances_know_their_alias(st: CacheState, project: Project, services: Any) -> None:
    services.wait_for_replica()
    list(Project.objects.filter(owner=project.owner))
    with CaptureQueriesContext(connections["replica"]) as ctx:
        got = list(Project.objects.using("replica").filter(owner=project.owner))
    assert len(ctx.captured_queries) == 0
    assert [p._state.db for p in got] == ["replica"]

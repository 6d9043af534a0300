"""The ``get(pk=...)`` fast path: keyed before SQL compilation, only when provably safe."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection, connections
from django.db.models import signals
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
        assert backend.state.wait_subscribed()
        backend.clear()
        yield backend.state
        backend.clear()


@pytest.fixture
def project(st: CacheState) -> Project:
    owner = User.objects.create_user(email="fp@example.com", password="x")
    return Project.objects.create(name="fast", owner=owner)


def kinds(st: CacheState) -> set[str]:
    """Which kinds of ORM entries L1 holds: "pk" (fast path) or "q" (SQL level)."""
    return {key.split(":")[2] for key in st.l1._data if key.count(":") > 3}


def count(fn: Any, alias: str = "default") -> int:
    with CaptureQueriesContext(connections[alias]) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_get_by_pk_uses_the_fast_path(st: CacheState, project: Project) -> None:
    st.l1.clear()
    for lookup in ({"pk": project.pk}, {"id": project.pk}, {"pk__exact": str(project.pk)}):
        assert Project.objects.get(**lookup).name == "fast"
    assert kinds(st) == {"pk"}
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
    st.l1.clear()
    Project.objects.filter(name="fast").get(pk=project.pk)
    Project.objects.select_related("owner").get(pk=project.pk)
    Project.objects.only("name").get(pk=project.pk)
    assert kinds(st) == {"q"}
    assert count(lambda: Project.objects.filter(name="fast").get(pk=project.pk)) == 0


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

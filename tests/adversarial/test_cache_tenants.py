"""Attack: one tenant's rows served to another by the ORM cache (issue 11, item 3).

Schema-per-tenant sites switch ``search_path``; row-level security sites switch the role
and a setting the policy reads. None of that is in a cache key, so before the fix a row
cached under the default schema was served after ``SET search_path TO tenant_b``. Each
test fills the cache as the default session, switches the session the way such a site
does, and asserts that every ORM path (the ``get(pk)`` fast path, the list path, the
SQL-level path) and ``cache_queryset`` return the switched session's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings

from django_dbopt.cache import cache_queryset
from django_dbopt.cache.backend import TwoTierCache
from example_project.demo.models import Project, User
from tests.cache_fixtures import caches_setting, orm_settings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


@pytest.fixture
def cache_on(services: Any) -> Iterator[TwoTierCache]:
    with override_settings(CACHES=caches_setting(), DBOPT=orm_settings(["demo"])):
        backend = caches["default"]
        assert isinstance(backend, TwoTierCache)
        assert backend.state.wait_l1()
        backend.clear()
        try:
            yield backend
        finally:
            connection.close()  # the session was switched: start the next test clean
            backend.clear()


def _execute(sql: str, params: Any = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _every_path(pk: int) -> dict[str, str]:
    return {
        "get": Project.objects.get(pk=pk).name,
        "list": next(iter(Project.objects.filter(pk=pk))).name,
        "sql": Project.objects.filter(pk=pk).values_list("name", flat=True)[0],
        "cache_queryset": cache_queryset(Project.objects.filter(pk=pk))[0].name,
    }


@pytest.fixture
def two_tenants(cache_on: TwoTierCache) -> Iterator[int]:
    """``projects`` in the default schema holds tenant A's row; schema ``tenant_b`` has a
    ``projects`` table of its own with tenant B's row under the same primary key."""
    owner = User.objects.create_user(email="a@example.com", password="x")
    project = Project.objects.create(name="tenant A's secret", owner=owner)
    _execute("DROP SCHEMA IF EXISTS tenant_b CASCADE")
    _execute("CREATE SCHEMA tenant_b")
    _execute("CREATE TABLE tenant_b.projects (LIKE public.projects INCLUDING ALL)")
    _execute(
        "INSERT INTO tenant_b.projects SELECT * FROM public.projects WHERE id = %s",
        [project.pk],
    )
    _execute("UPDATE tenant_b.projects SET name = %s", ["tenant B's row"])
    connection.close()  # the set-up ran DDL and writes: start from a plain connection
    try:
        yield project.pk
    finally:
        connection.close()
        _execute("DROP SCHEMA IF EXISTS tenant_b CASCADE")
        connection.close()


def test_search_path_switch_never_serves_the_other_tenants_rows(two_tenants: int) -> None:
    pk = two_tenants
    assert set(_every_path(pk).values()) == {"tenant A's secret"}
    assert set(_every_path(pk).values()) == {"tenant A's secret"}  # now from the cache
    _execute("SET search_path TO tenant_b")
    assert _every_path(pk) == dict.fromkeys(
        ("get", "list", "sql", "cache_queryset"), "tenant B's row"
    )
    # and what tenant B read was not stored for anyone else
    connection.close()
    assert set(_every_path(pk).values()) == {"tenant A's secret"}


def test_set_config_and_role_for_row_level_security(cache_on: TwoTierCache) -> None:
    owner = User.objects.create_user(email="rls@example.com", password="x")
    mine = Project.objects.create(name="visible to tenant 1", owner=owner)
    theirs = Project.objects.create(name="tenant 2 only", owner=owner)
    _execute("DROP ROLE IF EXISTS dbopt_tenant_reader")
    _execute("CREATE ROLE dbopt_tenant_reader")
    _execute("GRANT USAGE ON SCHEMA public TO dbopt_tenant_reader")
    _execute("GRANT SELECT ON projects TO dbopt_tenant_reader")
    _execute("ALTER TABLE projects ENABLE ROW LEVEL SECURITY")
    _execute(
        "CREATE POLICY dbopt_tenant ON projects USING "
        "(name LIKE '%%tenant ' || current_setting('app.tenant', true) || '%%')"
    )
    connection.close()
    try:
        ids = [mine.pk, theirs.pk]
        everything = sorted(p.name for p in Project.objects.filter(pk__in=ids))
        assert len(everything) == 2  # the superuser sees both rows (and caches them)
        assert Project.objects.get(pk=theirs.pk).name == "tenant 2 only"
        _execute("SELECT set_config('app.tenant', '1', false)")
        _execute("SET ROLE dbopt_tenant_reader")
        seen = sorted(p.name for p in Project.objects.filter(pk__in=ids))
        assert seen == ["visible to tenant 1"]
        assert list(Project.objects.filter(pk__in=ids).values_list("name", flat=True)) == seen
        with pytest.raises(Project.DoesNotExist):
            Project.objects.get(pk=theirs.pk)
    finally:
        connection.close()
        _execute("DROP POLICY IF EXISTS dbopt_tenant ON projects")
        _execute("ALTER TABLE projects DISABLE ROW LEVEL SECURITY")
        _execute("REVOKE ALL ON projects FROM dbopt_tenant_reader")
        _execute("REVOKE ALL ON SCHEMA public FROM dbopt_tenant_reader")
        _execute("DROP ROLE IF EXISTS dbopt_tenant_reader")
        connection.close()


def test_timeouts_set_by_health_checks_keep_the_connection_cacheable(
    cache_on: TwoTierCache,
) -> None:
    """Readiness and EXPLAIN run ``SET TRANSACTION READ ONLY`` / ``SET LOCAL
    statement_timeout``: they change no result, so caching goes on."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    owner = User.objects.create_user(email="health@example.com", password="x")
    project = Project.objects.create(name="kept", owner=owner)
    with transaction.atomic():
        _execute("SET TRANSACTION READ ONLY")
        _execute("SET LOCAL statement_timeout = 500")
    Project.objects.get(pk=project.pk)
    with CaptureQueriesContext(connection) as ctx:
        assert Project.objects.get(pk=project.pk).name == "kept"
    assert len(ctx.captured_queries) == 0

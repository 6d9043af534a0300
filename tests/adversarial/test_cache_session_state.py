"""Which statements mark a connection's session as non-default for the ORM cache
(``writes.changes_session``; the tenant attacks are in ``test_cache_tenants.py``). No
service needed: the classification alone."""

from __future__ import annotations

import pytest

from django_dbopt.cache.writes import changes_session

CHANGES_RESULTS = [
    "SET search_path TO tenant_b",
    "set search_path = tenant_b, public",
    "SET LOCAL search_path = tenant_b",
    "SET ROLE tenant_reader",
    "SET SESSION AUTHORIZATION tenant_user",
    "SET app.tenant = '1'",
    "SET TIME ZONE 'Asia/Tokyo'",
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    "SET statement_timeout = '1s'; SET search_path TO tenant_b",
    "RESET ALL",
    "RESET search_path",
    "DISCARD ALL",
    "SELECT set_config('app.tenant', '1', false)",
    "SELECT set_config(%s, %s, false)",
    "SELECT pg_catalog.set_config('search_path', 'tenant_b', true)",
    "DO $$ BEGIN EXECUTE 'SET search_path TO tenant_b'; END $$",
    "CALL switch_tenant(2)",
]
KEEPS_RESULTS = [
    "SELECT 1",
    'UPDATE "projects" SET "name" = %s WHERE "id" = %s',
    "SET TRANSACTION READ ONLY",
    "SET LOCAL statement_timeout = 500",
    "SET CONSTRAINTS ALL IMMEDIATE",
    "SET enable_hashjoin = off",
    "RESET statement_timeout",
    "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
]


@pytest.mark.parametrize("sql", CHANGES_RESULTS)
def test_statements_that_may_change_results_mark_the_session(sql: str) -> None:
    assert changes_session(sql)


@pytest.mark.parametrize("sql", KEEPS_RESULTS)
def test_timeouts_and_planner_settings_keep_it_cacheable(sql: str) -> None:
    assert not changes_session(sql)

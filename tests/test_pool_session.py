"""Which statements may leave session state behind (``pool/session.py``): no database."""

from __future__ import annotations

import pytest

from django_dbopt.pool.session import leaves_session_state

DIRTY = [
    "SET search_path TO pg_catalog",
    "SET statement_timeout = '1234ms'",
    "set session statement_timeout = 5",
    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "SET ROLE someone",
    "SET SESSION AUTHORIZATION someone",
    "SET TIME ZONE 'Europe/Paris'",
    "RESET search_path",
    "RESET ALL",
    "LISTEN x",
    "PREPARE q AS SELECT 1",
    "PREPARE TRANSACTION 'gid'",
    "EXECUTE q",
    "DEALLOCATE q",
    "DISCARD ALL",
    "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
    "CREATE TEMP TABLE t (x int)",
    "CREATE TEMPORARY TABLE t (x int)",
    "create table pg_temp.t (x int)",
    "CREATE TABLE t (x int)",
    "ALTER TABLE t ADD COLUMN y int",
    "SELECT * INTO TEMP t FROM projects",
    "WITH a AS (SELECT 1) SELECT * INTO t FROM a",
    "EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1",
    "SELECT pg_advisory_lock(1)",
    "SELECT pg_advisory_lock_shared(1)",
    "SELECT pg_try_advisory_lock(1, 2)",
    "select PG_CATALOG.PG_TRY_ADVISORY_LOCK_SHARED(1)",
    "SELECT set_config('search_path', 'x', false)",
    "SELECT set_config('search_path', %s, %s)",
    "SELECT set_config('a.b', 'x', true), set_config('a.c', 'y', false)",
    "SELECT set_config('a', $$, true)$$, false)",
    "SELECT set_config('a', 'it''s, true)', false)",
    "SELECT \"set_config\"('a', 'b', false)",
    "SELECT set_config",
    "SELECT set_config('a', 'b', true",
    'SELECT "pg_advisory_lock"(1)',
    "SELECT \"nextval\"('s')",
    "/* a /* b */ SELECT 1 */ SET search_path TO x",
    "SELECT nextval('projects_id_seq')",
    "SELECT setval('projects_id_seq', 10)",
    "SELECT dblink_connect('c', 'dbname=x')",
    "LOAD 'auto_explain'",
    "DO $$BEGIN PERFORM 1; END$$",
    "CALL proc()",
    "COPY projects TO STDOUT",
    "VACUUM projects",
    "SELECT 1; SET search_path TO x",
    "SELECT 1; SELECT 2",
    "/* hello */ SET search_path TO x",
    "-- hi\nLISTEN x",
    "",
    "   ",
    "?",
]

CLEAN = [
    'SELECT "projects"."id", "projects"."name" FROM "projects" WHERE "projects"."id" = %s',
    'INSERT INTO "projects" ("name", "owner_id") VALUES (%s, %s) RETURNING "projects"."id"',
    'UPDATE "projects" SET "name" = %s WHERE "projects"."id" = %s',
    'DELETE FROM "projects" WHERE "projects"."id" IN (%s, %s)',
    "SELECT 1;",
    "(SELECT 1) UNION (SELECT 2)",
    "WITH a AS (SELECT 1) SELECT * FROM a",
    "VALUES (1)",
    "SELECT id FROM projects FOR UPDATE",
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DO NOTHING",
    "EXPLAIN (FORMAT JSON) SELECT 1",
    "BEGIN",
    "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "COMMIT",
    "ROLLBACK",
    'SAVEPOINT "s1"',
    'RELEASE SAVEPOINT "s1"',
    'ROLLBACK TO SAVEPOINT "s1"',
    "SET LOCAL statement_timeout = 100",
    "SET TRANSACTION READ ONLY",
    "SET CONSTRAINTS ALL DEFERRED",
    "SHOW search_path",
    "NOTIFY x",
    "UNLISTEN *",
    "DECLARE c CURSOR FOR SELECT 1",
    "DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1",
    "FETCH 10 FROM c",
    "CLOSE c",
    "LOCK TABLE projects IN SHARE MODE",
    "TRUNCATE projects",
    "SELECT pg_advisory_xact_lock(1)",
    "SELECT pg_try_advisory_xact_lock_shared(1)",
    "SELECT pg_advisory_unlock(1)",
    "SELECT set_config('app.user', %s, true)",
    "SELECT set_config('app.user', lower(%s), TRUE)",
    "SELECT set_config('a', 'x, false)', true)",
    "SELECT set_config('a', 'it''s', true)",
    "SELECT currval('projects_id_seq')",
    "/* controller='x' */ SELECT 1",
    "SELECT 1 /* trailing */",
]


@pytest.mark.parametrize("sql", DIRTY)
def test_statements_that_may_leave_state_are_dirty(sql: str) -> None:
    assert leaves_session_state(sql) is True


@pytest.mark.parametrize("sql", CLEAN)
def test_statements_bounded_by_their_transaction_are_clean(sql: str) -> None:
    assert leaves_session_state(sql) is False

from __future__ import annotations

import pytest

from django_dbopt.sqlkind import is_read, statement_kind


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT "users"."id" FROM "users" WHERE "users"."email" = %s',
        "  select 1",
        "/* comment */ SELECT 1",
        "-- note\nSELECT 1",
        "(SELECT 1) UNION (SELECT 2)",
        "WITH t AS (SELECT 1) SELECT * FROM t",
        "VALUES (1), (2)",
        "EXPLAIN (FORMAT JSON) SELECT 1",
        'SELECT "tasks"."updated_at", "tasks"."description" FROM "tasks"',
    ],
)
def test_reads(sql: str) -> None:
    assert statement_kind(sql) == "read"
    assert is_read(sql)


@pytest.mark.parametrize(
    "sql",
    [
        'INSERT INTO "tasks" ("title") VALUES (%s)',
        'UPDATE "tasks" SET "status" = %s',
        'DELETE FROM "tasks"',
        "TRUNCATE tasks",
        "CREATE INDEX CONCURRENTLY i ON t (x)",
        'SELECT * FROM "tasks" WHERE id = 1 FOR UPDATE',
        "SELECT * FROM t FOR NO KEY UPDATE",
        "SELECT * FROM t FOR SHARE",
        "WITH moved AS (DELETE FROM a RETURNING *) SELECT * FROM moved",
        "SELECT * INTO new_table FROM t",
        "SELECT nextval('s')",
        "EXPLAIN ANALYZE UPDATE t SET x = 1",
        "EXPLAIN ANALYSE SELECT 1",
        "DO $$ BEGIN END $$",
        "",
    ],
)
def test_writes_and_the_unsure_are_writes(sql: str) -> None:
    assert statement_kind(sql) == "write"


def test_keyword_in_a_string_errs_on_the_side_of_write() -> None:
    assert statement_kind("SELECT 'update' AS word") == "write"


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("BEGIN", "transaction"),
        ('SAVEPOINT "s1"', "transaction"),
        ("RELEASE SAVEPOINT s1", "transaction"),
        ("COMMIT", "transaction"),
        ("SET statement_timeout = 100", "other"),
        ("SHOW server_version", "other"),
    ],
)
def test_transaction_control_and_session_statements(sql: str, kind: str) -> None:
    assert statement_kind(sql) == kind

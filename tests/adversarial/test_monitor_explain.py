"""Attacks on EXPLAIN (issue 11, item 1): whatever text the monitor captured, EXPLAIN
never runs a write, never commits, and runs one SELECT or nothing."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DatabaseError, connection
from django.test import override_settings

from django_dbopt.exceptions import UnsafeQuery
from django_dbopt.monitor.explain import explain
from django_dbopt.monitor.flush import flush_now
from django_dbopt.monitor.plans import explain_top
from tests.monitor_fixtures import fresh_monitor, monitor_config  # noqa: F401

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_monitor"),
]

#: the application query from the issue: two parameters, fails on the server
ATTACK = (
    "SELECT $%s$ $$ ; COMMIT; COMMENT ON TABLE victim IS $$pwned$$; "
    "SELECT lo_unlink(oid) FROM pg_largeobject_metadata; COMMIT ; SELECT $t$ $%s$ x$t$"
)
#: the shape main's fingerprint stored for it
STORED_SHAPE = (
    "SELECT $?$ $$ ; COMMIT; COMMENT ON TABLE victim IS $$pwned$$; "
    "SELECT lo_unlink(oid) FROM pg_largeobject_metadata; COMMIT ; SELECT $t$ $?$ x$t$"
)


@pytest.fixture
def victim() -> Iterator[list[int]]:
    """A ``victim`` table, one row, and two large objects (committed: the attack commits)."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE victim (id int PRIMARY KEY, name text)")
        cursor.execute("INSERT INTO victim VALUES (1, 'kept')")
        cursor.execute("SELECT lo_from_bytea(0, 'a'), lo_from_bytea(0, 'b')")
        oids = list(cursor.fetchone())
    yield oids
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS victim")
        cursor.execute("DROP TABLE IF EXISTS victim_log")
        cursor.execute("DROP FUNCTION IF EXISTS dbopt_side_effect()")
        cursor.execute(
            "SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE oid = ANY(%s)", [oids]
        )


def assert_untouched(oids: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description('victim'::regclass, 'pg_class')")
        assert cursor.fetchone()[0] is None, "EXPLAIN committed a table comment"
        cursor.execute("SELECT count(*) FROM pg_largeobject_metadata WHERE oid = ANY(%s)", [oids])
        assert cursor.fetchone()[0] == len(oids), "EXPLAIN deleted large objects"
        cursor.execute("SELECT count(*), min(name) FROM victim")
        assert cursor.fetchone() == (1, "kept")


def run_in_app(sql: str, params: list[object] | None = None) -> None:
    """What the application does: the query fails on the server, the monitor records it."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        pass


def test_the_issue_attack_through_the_store_and_explain_top(victim: list[int]) -> None:
    run_in_app(ATTACK, ["a", "b"])
    flush_now()
    result = explain_top(50)
    assert result, "the attack's shape was not even looked at"
    assert_untouched(victim)


def test_the_shape_main_stored_is_refused(victim: list[int]) -> None:
    with pytest.raises((UnsafeQuery, DatabaseError)):
        explain(STORED_SHAPE)
    assert_untouched(victim)


def test_a_stored_shape_in_the_store_cannot_commit(victim: list[int]) -> None:
    from django.utils import timezone

    from django_dbopt.monitor.models import QueryShape, QueryStat

    QueryShape.objects.create(
        fingerprint="a" * 16, sql=STORED_SHAPE, alias="default", first_seen=timezone.now()
    )
    QueryStat.objects.create(
        bucket_start=timezone.now(),
        resolution_s=300,
        fingerprint="a" * 16,
        view="-",
        calls=1,
        total_ms=1e6,
        min_ms=1.0,
        max_ms=1.0,
    )
    explain_top(50)
    assert_untouched(victim)


@pytest.mark.parametrize(
    "sql",
    [
        "WITH x AS (DELETE FROM victim RETURNING id) SELECT * FROM x",
        "WITH x AS (UPDATE victim SET name = 'gone' RETURNING id) SELECT * FROM x",
        "with x as (insert into victim values (2, 'new') returning id) select * from x",
        "WITH x AS (SELECT 1), y AS (DELETE FROM victim RETURNING 1) SELECT * FROM x, y",
        "SELECT * FROM victim WHERE id = ?; DELETE FROM victim",
        "SELECT 1; COMMIT; DELETE FROM victim",
    ],
)
def test_data_modifying_statements_are_refused(victim: list[int], sql: str) -> None:
    with pytest.raises((UnsafeQuery, DatabaseError)):
        explain(sql)
    assert_untouched(victim)


def test_a_function_with_side_effects_writes_nothing(victim: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE victim_log (at timestamptz)")
        # IMMUTABLE: the planner runs it while planning (constant folding)
        cursor.execute(
            "CREATE FUNCTION dbopt_side_effect() RETURNS int LANGUAGE plpgsql IMMUTABLE AS "
            "$f$ BEGIN INSERT INTO victim_log VALUES (now()); RETURN 1; END $f$"
        )
    for sql, analyze in (
        ("SELECT dbopt_side_effect()", False),
        ("SELECT dbopt_side_effect()", True),
        ("SELECT * FROM victim WHERE id = dbopt_side_effect()", True),
        ("SELECT * FROM victim WHERE id = ? + dbopt_side_effect()", False),
    ):
        with contextlib.suppress(UnsafeQuery, DatabaseError):
            explain(sql, analyze=analyze)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM victim_log")
        assert cursor.fetchone()[0] == 0
    assert_untouched(victim)


def test_timeout_and_read_only_do_not_leak(victim: list[int]) -> None:
    explain("SELECT * FROM victim WHERE id = ?")
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
        cursor.execute("SHOW transaction_read_only")
        assert cursor.fetchone()[0] == "off"
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0


def _quoting_tricks(seed: int, count: int) -> list[str]:
    """Generated SELECTs that hide ``; COMMIT; <write>`` behind quoting PostgreSQL and
    other parsers read differently: dollar quotes, E'' strings, nested comments,
    semicolons in strings, ``?`` placeholders next to quote characters."""
    rng = random.Random(seed)
    writes = [
        "COMMENT ON TABLE victim IS 'pwned'",
        "SELECT lo_unlink(oid) FROM pg_largeobject_metadata",
        "DELETE FROM victim",
        "UPDATE victim SET name = 'gone'",
    ]
    openers = ["$$", "$t$", "$?$", "$1$", "E'", "'", "/*", "/* /*", "--", '"', "E'\\'", "U&'"]
    closers = ["$$", "$t$", "$?$", "$1$", "'", "*/", "*/ */", "\n", '"', "\\''"]
    out = []
    for _ in range(count):
        payload = f"; COMMIT; {rng.choice(writes)}; COMMIT; "
        head = f"SELECT {rng.choice(['?', '1', 'id', chr(39) + ';' + chr(39)])} "
        text = (
            head
            + rng.choice(openers)
            + " "
            + payload
            + "SELECT "
            + rng.choice(closers)
            + rng.choice(["", " x", " ?", " FROM victim"])
            + rng.choice(["", " " + rng.choice(closers)])
        )
        out.append(text)
    return out


@pytest.mark.parametrize("sql", _quoting_tricks(seed=11, count=60), ids=lambda _: "q")
def test_fuzzed_quoting_tricks_never_write(victim: list[int], sql: str) -> None:
    with contextlib.suppress(UnsafeQuery, DatabaseError):
        explain(sql)
    assert_untouched(victim)


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_explain_database_alias_is_used(victim: list[int], services: Any) -> None:
    """``EXPLAIN_DATABASE`` sends every EXPLAIN to that alias (here the standby, which
    cannot write at all): a table the standby has not replayed yet is unknown there."""
    services.wait_for_replica()
    with services.replay_paused():
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE victim_new (id int)")
        try:
            assert explain("SELECT * FROM victim_new WHERE id = ?").total_cost > 0
            with override_settings(DBOPT=monitor_config(explain_database="replica")):
                assert explain("SELECT * FROM victim WHERE id = ?").total_cost > 0
                with pytest.raises(DatabaseError, match="victim_new"):
                    explain("SELECT * FROM victim_new WHERE id = ?")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE victim_new")

"""``RESET_SESSION`` on the real primary: dirty sessions are reset, clean ones are not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connections, transaction
from django.test import override_settings

from django_dbopt.metrics import DbOptCollector
from django_dbopt.pool import mark_dirty
from django_dbopt.pool.stats import pool_stats
from example_project.demo.models import Project, User
from tests.pool_fixtures import pooled, pooled_alias  # noqa: F401

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "pooled"]),
    pytest.mark.usefixtures("pooled_alias"),
]

#: what a borrower can see of the session it was handed
STATE_SQL = """
SELECT pg_backend_pid(),
       current_setting('statement_timeout'),
       current_setting('search_path'),
       current_setting('TimeZone'),
       (SELECT count(*) FROM pg_listening_channels()),
       to_regclass('pg_temp.leftover') IS NOT NULL,
       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
       (SELECT count(*) FROM pg_prepared_statements WHERE from_sql),
       (SELECT count(*) FROM pg_cursors)
"""


def _state(alias: str = "pooled") -> tuple[Any, ...]:
    with connections[alias].cursor() as cursor:
        cursor.execute(STATE_SQL)
        row = cursor.fetchone()
    connections[alias].close()
    return tuple(row)


def _resets(alias: str = "pooled") -> int:
    stats = pool_stats(alias)
    assert stats is not None
    return int(stats["counters"]["resets"])


@pytest.fixture
def one_connection() -> Iterator[Any]:
    """A fresh managed pool of one connection, so every checkout gets the same session."""
    with pooled(min_size=1, max_size=1) as wrapper:
        yield wrapper


@pytest.mark.parametrize(
    "statements",
    [
        ["SET search_path TO pg_catalog"],
        ["SET statement_timeout = '1234ms'"],
        ["LISTEN dbopt_channel"],
        ["CREATE TEMP TABLE leftover (x int)"],
        ["SELECT pg_advisory_lock(4242)"],
        ["PREPARE dbopt_stmt AS SELECT 1"],
        ["DECLARE dbopt_cursor CURSOR WITH HOLD FOR SELECT 1"],
        ["SELECT set_config('statement_timeout', '4321ms', false)"],
        ["BEGIN", "SET statement_timeout = '999ms'", "COMMIT"],
    ],
    ids=lambda s: s[0] if len(s) == 1 else " / ".join(s),
)
def test_a_session_that_changed_state_is_reset_before_the_next_checkout(
    one_connection: Any, statements: list[str]
) -> None:
    before = _state()
    with one_connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    one_connection.close()
    after = _state()
    assert after[0] == before[0]  # the same server session, handed out again
    assert after == before  # defaults, no channel, temp table, lock, statement or cursor
    assert _resets() == 1


def test_the_advisory_lock_is_released_for_other_sessions(one_connection: Any) -> None:
    with one_connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(4243)")
    one_connection.close()
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(4243)")
        assert cursor.fetchone()[0] is True
        cursor.execute("SELECT pg_advisory_unlock(4243)")


def test_orm_reads_and_writes_leave_the_session_alone(one_connection: Any) -> None:
    before = _state()
    for n in range(3):
        with transaction.atomic(using="pooled"):
            owner = User.objects.db_manager("pooled").create_user(email=f"o{n}@example.com")
            project = Project.objects.using("pooled").create(name=f"p{n}", owner=owner)
            with transaction.atomic(using="pooled"):  # a savepoint
                Project.objects.using("pooled").filter(pk=project.pk).update(name="renamed")
            list(Project.objects.using("pooled").select_for_update().filter(owner=owner))
        assert Project.objects.using("pooled").filter(name="renamed").count() == 1
        list(Project.objects.using("pooled").select_related("owner").order_by("-id")[:5])
        Project.objects.using("pooled").filter(pk=project.pk).delete()
        one_connection.close()
    assert _state() == before
    stats = pool_stats("pooled")
    assert stats is not None
    assert stats["counters"]["checkouts"] == 5
    assert stats["counters"]["resets"] == 0
    parts = [getattr(w, "_dbopt_part", None) for w in one_connection.execute_wrappers]
    assert parts.count("pool") == 1  # installed once, however many checkouts
    with one_connection.cursor() as cursor:  # the counter does count
        cursor.execute("SET search_path TO pg_catalog")
    one_connection.close()
    assert _resets() == 1


def test_an_iterator_outside_a_transaction_holds_a_cursor_and_is_reset(
    one_connection: Any,
) -> None:
    cursor = one_connection.chunked_cursor()  # what QuerySet.iterator() uses
    cursor.execute("SELECT generate_series(1, 10)")
    assert cursor.fetchone() == (1,)
    one_connection.close()  # the request ends with the iterator not exhausted
    assert _state()[-1] == 0  # no cursor left open in the next borrower's session
    assert _resets() == 1
    # the stale Python object must not send CLOSE to the session it no longer owns
    psycopg.Cursor.close(cursor.cursor)


@pytest.mark.parametrize("debug", [False, True])
def test_callproc_is_reset(one_connection: Any, debug: bool) -> None:
    one_connection.force_debug_cursor = debug
    try:
        with one_connection.cursor() as cursor:
            cursor.callproc("set_config", ["search_path", "pg_catalog", False])
        one_connection.close()
    finally:
        one_connection.force_debug_cursor = False
    assert "pg_catalog" not in _state()[2]
    assert _resets() == 1


def test_raw_psycopg_statements_need_mark_dirty(one_connection: Any) -> None:
    one_connection.ensure_connection()
    one_connection.connection.execute("SET statement_timeout = '777ms'")
    one_connection.close()
    assert _state()[1] == "777ms"  # invisible to the execute wrapper: documented
    one_connection.ensure_connection()
    one_connection.connection.execute("SET statement_timeout = '778ms'")
    mark_dirty("pooled")
    one_connection.close()
    assert _state()[1] == "0"
    assert _resets() == 1


def test_always_resets_every_connection() -> None:
    with (
        override_settings(DBOPT={"POOL": {"RESET_SESSION": "always"}}),
        pooled(min_size=1, max_size=1),
    ):
        for _ in range(3):
            _state()
        assert _resets() == 3


@pytest.mark.parametrize("off", [False, "never"])
def test_never_resets(off: Any) -> None:
    with (
        override_settings(DBOPT={"POOL": {"RESET_SESSION": off}}),
        pooled(min_size=1, max_size=1) as wrapper,
    ):
        with wrapper.cursor() as cursor:
            cursor.execute("SET statement_timeout = '1234ms'")
        wrapper.close()
        assert _state()[1] == "1234ms"
        assert _resets() == 0
        assert all(getattr(w, "_dbopt_part", None) != "pool" for w in wrapper.execute_wrappers)


def test_a_connection_returned_in_a_transaction_is_rolled_back_not_reset(
    one_connection: Any,
) -> None:
    one_connection.ensure_connection()
    raw = one_connection.connection
    one_connection.set_autocommit(False)
    with one_connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert raw.pgconn.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    one_connection.close()
    assert raw.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert _resets() == 0
    _state()  # still a working session


@pytest.mark.parametrize("mode", ["dirty", "always"])
def test_prepared_statements_are_dropped_without_breaking_psycopg_s_own(mode: str) -> None:
    with (
        override_settings(DBOPT={"POOL": {"RESET_SESSION": mode}}),
        pooled(
            min_size=1,
            max_size=1,
            options={"prepare_threshold": 0, "server_side_binding": True},
        ) as wrapper,
    ):
        first = _state()  # psycopg prepares every statement (threshold 0)
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT %s::int", [1])
            cursor.execute("PREPARE dbopt_stmt AS SELECT 1")
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql")
            assert cursor.fetchone()[0] > 0  # psycopg's own, through the protocol
        wrapper.close()
        for n in range(3):  # psycopg's own statements are prepared again, not broken
            again = _state()
            assert again[0] == first[0]  # the reset did not fail (that discards the session)
            assert again[7] == 0  # no PREPAREd statement left
            assert _scalar_int(n) == n
        stats = pool_stats("pooled")
        assert stats is not None
        assert stats["counters"]["reset_failures"] == 0


def _scalar_int(n: int) -> int:
    with connections["pooled"].cursor() as cursor:
        cursor.execute("SELECT %s::int", [n])
        value = int(cursor.fetchone()[0])
    connections["pooled"].close()
    return value


def test_a_reset_that_fails_discards_the_session(
    one_connection: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pid = _state()[0]
    with one_connection.cursor() as cursor:
        cursor.execute("SET search_path TO pg_catalog")
    with connections["default"].cursor() as cursor:  # the server ends that session
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        assert cursor.fetchone()[0] is True
    with caplog.at_level("WARNING", logger="django_dbopt.pool"):
        one_connection.close()
    assert "its reset failed" in caplog.text
    stats = pool_stats("pooled")
    assert stats is not None
    assert (stats["counters"]["resets"], stats["counters"]["reset_failures"]) == (0, 1)
    after = _state()
    assert after[0] != pid  # a new session, with defaults
    assert after[1:3] == ("0", '"$user", public')


def test_resets_are_exported_as_metrics(one_connection: Any) -> None:
    with one_connection.cursor() as cursor:
        cursor.execute("LISTEN dbopt_metrics")
    one_connection.close()
    samples = {
        (s.name, s.labels.get("alias"), s.labels.get("result")): s.value
        for family in DbOptCollector().pool_families()
        for s in family.samples
    }
    assert samples[("dbopt_pool_session_resets_total", "pooled", "done")] == 1
    assert samples[("dbopt_pool_session_resets_total", "pooled", "failed")] == 0

"""The managed pool on the real primary: stats, session reset, leaks, exhaustion, fork."""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from typing import Any

import pytest
from django.db import OperationalError, connections
from django.test import Client, override_settings

from django_dbopt.pool.errors import PoolExhausted
from django_dbopt.pool.managed import ManagedPool
from django_dbopt.pool.stats import all_pool_stats, pool_stats
from django_dbopt.signals import connection_leaked
from tests import pool_fixtures
from tests.pool_fixtures import held_elsewhere, pooled, pooled_alias  # noqa: F401
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "pooled"]),
    pytest.mark.usefixtures("pooled_alias"),
]

HOLDER_FILE = os.path.abspath(pool_fixtures.__file__)


def _backend_pid(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _scalar(alias: str, sql: str) -> Any:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


class Leaks:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.seen.append(kwargs)


@pytest.fixture
def leaks() -> Any:
    receiver = Leaks()
    connection_leaked.connect(receiver)
    yield receiver
    connection_leaked.disconnect(receiver)


def test_engine_makes_a_managed_pool_with_stats() -> None:
    with pooled(min_size=1, max_size=2) as wrapper:
        assert all_pool_stats() == {"pooled": None}  # configured, not created: no data
        assert pool_stats("pooled") is None  # configured, not created: no data
        assert _scalar("pooled", "SELECT 1") == 1
        assert isinstance(wrapper.pool, ManagedPool)
        wrapper.close()
        assert _scalar("pooled", "SELECT 2") == 2
        wrapper.close()
        stats = pool_stats("pooled")
        assert stats is not None
        assert stats["managed"] is True
        assert stats["counters"]["checkouts"] == 2
        assert stats["counters"]["requests_num"] == 2
        assert stats["pool_max"] == 2
        assert stats["in_use"] == 0
        assert stats["peak_in_use"] == 1
        assert stats["breaker"] == "closed"
        assert stats["timeout_s"] == 5.0  # CHECKOUT_TIMEOUT_S, not psycopg's 30 s
        json.dumps(stats)


def test_plain_django_pool_is_measured_too() -> None:
    with pooled(engine="django.db.backends.postgresql", min_size=1, max_size=2) as wrapper:
        _scalar("pooled", "SELECT 1")
        wrapper.close()
        stats = pool_stats("pooled")
    assert stats is not None
    assert stats["managed"] is False
    assert stats["counters"]["requests_num"] == 1
    assert stats["timeout_s"] == 30.0  # psycopg's default: no CHECKOUT_TIMEOUT_S here
    assert "breaker" not in stats


def test_stats_survive_the_pool_being_replaced() -> None:
    with pooled(min_size=1, max_size=1) as wrapper:
        _scalar("pooled", "SELECT 1")
        wrapper.close()
        wrapper.close_pool()  # what Django does when the time zone setting changes
        _scalar("pooled", "SELECT 1")
        wrapper.close()
        stats = pool_stats("pooled")
        assert stats is not None
        assert stats["counters"]["checkouts"] == 2
        assert stats["counters"]["requests_num"] == 2


def test_session_state_is_reset_when_a_connection_returns() -> None:
    with pooled(min_size=1, max_size=1) as wrapper:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            first_pid = cursor.fetchone()[0]
            cursor.execute("SET statement_timeout = '1234ms'")
            cursor.execute("SET search_path TO pg_catalog")
            cursor.execute("CREATE TEMP TABLE leftover (x int)")
            cursor.execute("SELECT pg_advisory_lock(4242)")
        wrapper.close()
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] == first_pid  # the same server session, reused
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "0"
            cursor.execute("SHOW search_path")
            assert "pg_catalog" not in cursor.fetchone()[0]
            cursor.execute("SELECT to_regclass('pg_temp.leftover')")
            assert cursor.fetchone()[0] is None
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            assert cursor.fetchone()[0] == 0
            cursor.execute("SHOW TimeZone")
            assert cursor.fetchone()[0] == "UTC"  # Django's own set-up applied again


def test_reset_can_be_turned_off() -> None:
    with (
        override_settings(DBOPT={"POOL": {"RESET_SESSION": False}}),
        pooled(min_size=1, max_size=1) as w,
    ):
        with w.cursor() as cursor:
            cursor.execute("SET statement_timeout = '1234ms'")
        w.close()
        assert _scalar("pooled", "SHOW statement_timeout") == "1234ms"


def test_connection_held_too_long_is_reported_once_with_its_location(
    leaks: Leaks, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {"POOL": {"LEAK_THRESHOLD_S": 0.05}}
    with override_settings(DBOPT=settings), pooled(min_size=1, max_size=2):
        with held_elsewhere("pooled") as thread, caplog.at_level(logging.WARNING):
            time.sleep(0.1)
            stats = pool_stats("pooled")  # reading stats sweeps
            pool_stats("pooled")  # a second sweep does not report again
        assert stats is not None
        assert stats["counters"]["leaks_held_too_long"] == 1
        assert stats["held"][0]["location"].startswith(f"{HOLDER_FILE}:")
        assert "hold_connection()" in stats["held"][0]["location"]
    assert len(leaks.seen) == 1
    leak = leaks.seen[0]
    assert leak["alias"] == "pooled"
    assert leak["kind"] == "held_too_long"
    assert leak["filename"] == HOLDER_FILE
    assert leak["function"] == "hold_connection"
    assert leak["thread"] == thread.name
    assert leak["held_s"] >= 0.05
    messages = [r.getMessage() for r in caplog.records if r.name == "django_dbopt.pool"]
    assert len(messages) == 1
    assert f"{HOLDER_FILE}:{leak['lineno']}" in messages[0]


def test_connection_in_a_transaction_is_not_a_leak(leaks: Leaks) -> None:
    with override_settings(DBOPT={"POOL": {"LEAK_THRESHOLD_S": 0.05}}), pooled() as wrapper:
        with wrapper.cursor() as cursor:
            cursor.execute("BEGIN")  # a long transaction is long work, not a leak
            time.sleep(0.1)
            stats = pool_stats("pooled")
            cursor.execute("ROLLBACK")
        assert stats is not None
        assert stats["counters"]["leaks_held_too_long"] == 0
    assert leaks.seen == []


@override_settings(ROOT_URLCONF="tests.pool_fixtures")
def test_connection_still_held_when_the_request_finishes(leaks: Leaks) -> None:
    with pooled(min_size=1, max_size=3):
        assert Client().get("/tidy/").status_code == 200
        assert leaks.seen == []  # the request thread's own connection is Django's business
        try:
            assert Client().get("/leaky/").status_code == 200
            assert len(leaks.seen) == 1
            assert leaks.seen[0]["kind"] == "request_end"
            assert leaks.seen[0]["filename"] == HOLDER_FILE
            assert leaks.seen[0]["function"] == "hold_connection"
            stats = pool_stats("pooled")
            assert stats is not None
            assert stats["counters"]["leaks_request_end"] == 1
        finally:
            pool_fixtures._leaky_release.set()
            for thread in pool_fixtures._leaky_threads:
                thread.join(10)
            pool_fixtures._leaky_release.clear()


def test_exhausted_pool_fails_fast_and_names_the_holder() -> None:
    with pooled(min_size=1, max_size=1, timeout=0.3), held_elsewhere("pooled"):
        started = time.monotonic()
        with pytest.raises(OperationalError) as info:
            _scalar("pooled", "SELECT 1")
        waited = time.monotonic() - started
        stats = pool_stats("pooled")
    assert isinstance(info.value.__cause__, PoolExhausted)
    message = str(info.value)
    assert "Connection pool of database 'pooled' is exhausted" in message
    assert "1 of max 1 connections in use" in message
    assert f"{HOLDER_FILE}:" in message
    assert "hold_connection()" in message
    assert waited < 5  # the configured 0.3 s, not psycopg's default 30 s
    assert stats is not None
    assert stats["counters"]["exhausted"] == 1


def test_too_many_waiting_fails_at_once() -> None:
    with (
        pooled(min_size=1, max_size=1, timeout=5, max_waiting=1) as wrapper,
        held_elsewhere("pooled"),
    ):
        errors: list[Exception] = []

        def wait_in_queue() -> None:
            try:
                _scalar("pooled", "SELECT 1")
            except OperationalError as e:
                errors.append(e)

        waiter = threading.Thread(target=wait_in_queue)
        waiter.start()
        wait_until(lambda: wrapper.pool.get_stats().get("requests_waiting") == 1, 30)
        # the waiter is queued; this request would be the second one
        with pytest.raises(OperationalError, match="exhausted"):
            _scalar("pooled", "SELECT 1")
        waiter.join(30)
    assert len(errors) == 1  # the queued one timed out after its 5 s


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork.*:DeprecationWarning")
def test_forked_child_opens_its_own_connections() -> None:
    with pooled(min_size=2, max_size=2) as wrapper:
        parent_pid = _backend_pid("pooled")  # a connection is checked out at fork time
        parent_pool = wrapper.pool
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover  (runs in the child)
            code = 1
            try:
                os.close(read_end)
                pid = _backend_pid("pooled")
                report = {
                    "pid": pid,
                    "new_pool": connections["pooled"].pool is not parent_pool,
                    "inherited_closed": parent_pool.closed,  # a stray reference is unusable
                }
                connections["pooled"].close()
                gc.collect()  # inherited objects finalized: must not end the parent's session
                os.write(write_end, json.dumps(report).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            report = json.loads(pipe.read() or "{}")
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert report["new_pool"] is True
        assert report["inherited_closed"] is True
        assert parent_pool.closed is False  # only in the child
        assert report["pid"] != parent_pid
        # The parent's checked-out connection and its pool still work.
        assert _backend_pid("pooled") == parent_pid
        wrapper.close()
        assert _scalar("pooled", "SELECT 1") == 1

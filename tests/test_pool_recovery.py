"""A pooled database restarted under the pool: fail fast while down, no failure once back.

Runs against a PostgreSQL server of its own (``throwaway_postgres``), never the suite's
primary, which other tests need.
"""

from __future__ import annotations

import time

import pytest
from django.db import OperationalError, connections
from django.test import override_settings

from django_dbopt.pool.errors import PoolUnavailable
from django_dbopt.pool.stats import pool_stats
from tests.pool_fixtures import restartable_alias  # noqa: F401
from tests.services import PgServer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "restartable"]),
]


def _request() -> int:
    """What a request does: a query, then Django returns the connection at its end."""
    try:
        with connections["restartable"].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return int(cursor.fetchone()[0])
    finally:
        connections["restartable"].close()


def test_restart_fails_fast_while_down_and_recovers(restartable_alias: PgServer) -> None:  # noqa: F811
    server = restartable_alias
    with override_settings(DBOPT={"POOL": {"CONNECT_FAILURES_TO_OPEN": 3}}):
        try:
            before = {_request() for _ in range(5)}
            server.stop("fast")

            durations, errors = [], []
            for _ in range(8):
                started = time.monotonic()
                with pytest.raises(OperationalError) as info:
                    _request()
                durations.append(time.monotonic() - started)
                errors.append(info.value)
            stats = pool_stats("restartable")
            assert stats is not None
            assert stats["breaker"] != "closed"
            assert stats["last_connect_error"]
            # Once the breaker is open, nobody waits for the pool's 10 s timeout.
            assert all(isinstance(e.__cause__, PoolUnavailable) for e in errors[1:])
            assert "'restartable' is unreachable" in str(errors[-1])
            assert max(durations) < 5

            server.start()
            after = [_request() for _ in range(30)]  # not one of these may fail
        finally:
            if not server.running:
                server.start()
    assert not before & set(after)  # new server sessions, none of the dead ones
    stats = pool_stats("restartable")
    assert stats is not None
    assert stats["breaker"] == "closed"
    assert stats["counters"]["dead_on_checkout"] >= 1
    assert stats["counters"]["connections_errors"] >= 3

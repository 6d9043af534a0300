"""The pool's breaker once the server is back: nobody fails behind the half-open trial
(issue 20).

While the one trial connection is being made, other checkouts wait for its outcome
(within their own checkout timeout) instead of failing at once. Run with ``-s`` to see
the figures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import path

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.pool.stats import pool_stats
from tests.pool_fixtures import (
    MANAGED,
    extra_database,
    pooled,
    primary_conf,
    restartable_alias,  # noqa: F401
)
from tests.proxy import TcpProxy
from tests.services import PgServer

pytestmark = [pytest.mark.postgres]


@pytest.fixture(scope="module")
def delayed(django_db_setup: None) -> Iterator[TcpProxy]:
    """Alias ``delayed``: the suite's primary through a proxy that can refuse or delay."""
    port = int(connections["default"].settings_dict["PORT"])
    with TcpProxy(port) as proxy:
        conf = primary_conf(ENGINE=MANAGED, HOST="127.0.0.1", PORT=str(proxy.port))
        conf["OPTIONS"] = {"pool": {"min_size": 0, "max_size": 4, "timeout": 5}}
        with extra_database("delayed", conf):
            yield proxy


def _checkout(alias: str) -> int:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return int(cursor.fetchone()[0])
    finally:
        connections[alias].close()


def test_breaker_waiters_see_the_trials_outcome() -> None:
    breaker = CircuitBreaker(failures=1, reset_after=0.0)
    breaker.failure()
    assert breaker.acquire() == "trial"
    assert breaker.acquire() == "refused"  # no wait: refused while the trial runs
    answers: list[str] = []
    waiter = threading.Thread(target=lambda: answers.append(breaker.acquire(wait=10)))
    waiter.start()
    time.sleep(0.05)  # let it wait (the outcome is the same if it has not yet)
    breaker.success()
    waiter.join(10)
    assert answers == ["closed"]

    breaker.failure()
    assert breaker.acquire() == "trial"
    waiter = threading.Thread(target=lambda: answers.append(breaker.acquire(wait=10)))
    waiter.start()
    time.sleep(0.05)
    breaker.failure()  # the trial failed: the waiter fails fast, it does not wait 10 s
    waiter.join(10)
    assert answers == ["closed", "refused"]


def test_a_trial_that_never_reports_is_presumed_lost() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=1, reset_after=0.0, clock=lambda: now[0], trial_timeout=5)
    breaker.failure()
    assert breaker.acquire() == "trial"
    assert breaker.acquire() == "refused"
    now[0] = 6.0
    assert breaker.acquire() == "trial"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases=["default", "delayed"])
def test_a_checkout_behind_a_slow_trial_connection_does_not_fail(delayed: TcpProxy) -> None:
    """Reproduction from the issue: each connect takes 0.5 s once the server is back;
    checkout A is the trial, checkout B starts 0.1 s later and must not fail."""
    with (
        override_settings(DBOPT={"POOL": {"CONNECT_FAILURES_TO_OPEN": 2}}),
        pooled("delayed", min_size=0, max_size=4, timeout=5),
    ):
        _checkout("delayed")
        delayed.refuse()
        delayed.drop_all()
        for _ in range(3):
            with pytest.raises(OperationalError):
                _checkout("delayed")
        stats = pool_stats("delayed")
        assert stats is not None
        assert stats["breaker"] != "closed"
        delayed.connect_delay = 0.5
        delayed.forward()
        results: dict[str, Any] = {}

        def run(name: str) -> None:
            started = time.monotonic()
            try:
                results[name] = ("ok", _checkout("delayed"))
            except OperationalError as e:
                results[name] = ("failed", e)
            results[name + "_s"] = time.monotonic() - started

        a = threading.Thread(target=run, args=("A",))
        b = threading.Thread(target=run, args=("B",))
        try:
            a.start()
            time.sleep(0.1)
            b.start()
            a.join(20)
            b.join(20)
        finally:
            delayed.connect_delay = 0.0
    print(
        f"\n[connect delay 0.5 s] trial A {results['A'][0]} in {results['A_s']:.3f} s, "
        f"B (0.1 s later) {results['B'][0]} in {results['B_s']:.3f} s"
    )
    assert results["A"][0] == "ok", results["A"]
    assert results["B"][0] == "ok", results["B"]


def load_view(request: HttpRequest) -> HttpResponse:
    with connections["restartable"].cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok")


urlpatterns = [path("load/", load_view)]


def _wsgi_get(handler: WSGIHandler, path: str) -> int:
    """One request through Django's WSGI handler, as a server would make it (unlike the
    test client, the handler returns the request's connections at its end)."""
    environ: dict[str, Any] = {
        "PATH_INFO": path,
        "REQUEST_METHOD": "GET",
        "HTTP_HOST": "testserver",
        "SERVER_NAME": "testserver",
    }
    setup_testing_defaults(environ)
    statuses: list[str] = []
    response = handler(environ, lambda status, headers: statuses.append(status))
    try:
        b"".join(response)
    finally:
        response.close()  # request_finished: connections go back to the pool
    return int(statuses[0].split()[0])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases=["default", "restartable"])
@override_settings(ROOT_URLCONF="tests.test_pool_breaker")
def test_restarts_under_load_fail_nothing_once_the_server_is_back(
    restartable_alias: PgServer,  # noqa: F811
) -> None:
    """4 threads through Django's WSGI handler; PostgreSQL restarted 5 times. Requests
    that start while it is down fail fast; not one that starts once it is back fails."""
    server = restartable_alias
    back_at: list[float] = []  # when each start() returned (accepting connections)
    down_at: list[float] = []
    log: list[tuple[float, float, bool]] = []  # (started, seconds, failed)
    stop = threading.Event()

    handler = WSGIHandler()

    def worker() -> None:
        while not stop.is_set():
            started = time.monotonic()
            failed = _wsgi_get(handler, "/load/") != 200  # a database error is a 500
            log.append((started, time.monotonic() - started, failed))

    with (
        override_settings(DBOPT={"POOL": {"CONNECT_FAILURES_TO_OPEN": 3}}),
        pooled("restartable", min_size=2, max_size=4, timeout=10),
    ):
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            for _ in range(5):
                time.sleep(0.5)  # load on a healthy server
                down_at.append(time.monotonic())
                server.stop("fast")
                time.sleep(0.5)  # load on a stopped server
                server.start()
                back_at.append(time.monotonic())
            time.sleep(0.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
            if not server.running:
                server.start()

    def phase(started: float, seconds: float) -> str:
        """``down``: the request overlapped a stop..start window (the server went away
        during it or before it); ``back``: it ran entirely after a start() returned and
        before the next stop; ``before``: before the first restart."""
        ended = started + seconds
        for down, back in zip(down_at, back_at, strict=True):
            if started < back and ended >= down:
                return "down"
        return "back" if started >= back_at[0] else "before"

    phases = [(phase(s, d), d, f) for s, d, f in log]
    failed_down = sum(1 for p, _, f in phases if f and p == "down")
    down_total = sum(1 for p, _, _ in phases if p == "down")
    failed_after = sum(1 for p, _, f in phases if f and p == "back")
    up_total = sum(1 for p, _, _ in phases if p == "back")
    failures_down = sorted(d for p, d, f in phases if f and p == "down")
    worst_down = failures_down[-1] if failures_down else 0.0
    median_down = failures_down[len(failures_down) // 2] if failures_down else 0.0
    print(
        f"\n[5 restarts, 4 threads] {len(log)} requests; while down: {failed_down} of "
        f"{down_total} failed (median {median_down * 1000:.1f} ms, slowest "
        f"{worst_down * 1000:.1f} ms); after it was back: {failed_after} of {up_total} failed"
    )
    assert failed_down > 0  # the restarts really happened under load
    assert up_total > 0
    assert failed_after == 0

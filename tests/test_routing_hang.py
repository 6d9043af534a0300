"""A replica that hangs never hangs a request and never blinds the probes (issue 18).

The real standby is reached through a TCP proxy that can freeze: it keeps every socket
open and forwards nothing, which is what a hung server (or a partition that drops
nothing) looks like to a client. Run with ``-s`` to see the worst request times.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from django_dbopt.routing import counters, routing_scope, status
from django_dbopt.routing.health import monitor
from django_dbopt.routing.watchdog import TICK_S
from example_project.demo.models import User
from tests.routing_fixtures import replica_state, routed
from tests.routing_hang_fixtures import ALIASES, Proxied, proxied, run_bounded  # noqa: F401
from tests.services import Services
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases=["default", "replica", *ALIASES]),
]

#: READ_TIMEOUT_S in these tests (the default)
LIMIT = 0.3
#: the documented bound (2 x READ_TIMEOUT_S and a watchdog tick) plus room for a busy
#: machine and the read run again on the primary
BOUND = 2 * LIMIT + TICK_S + 1.5
EMAIL = "hang@example.com"


@pytest.fixture
def row(services: Services) -> str:
    User.objects.create_user(email=EMAIL, password="x")
    services.wait_for_replica()
    return EMAIL


def _breaker(alias: str) -> str:
    return next(r.breaker for r in status().replicas if r.alias == alias)


def _two_reads_in_one_scope(alias: str, freeze: Any) -> tuple[list[str], float]:
    """One read opens the replica connection; the replica hangs; a second read."""
    with routing_scope():
        first = User.objects.filter(email=EMAIL)
        assert first.db == alias
        assert first.exists()
        freeze()
        started = time.monotonic()
        emails = list(User.objects.filter(email=EMAIL).values_list("email", flat=True))
        return emails, time.monotonic() - started


@pytest.mark.parametrize("alias", ["hang1", "hang_pooled"])
def test_a_read_on_a_replica_that_hangs_ends_in_time_on_the_primary(
    proxied: Proxied,  # noqa: F811
    row: str,
    alias: str,
) -> None:
    proxy = proxied.proxies[alias]
    with routed(replicas={"default": {alias: 1}}, read_timeout_s=LIMIT):
        monitor.ensure_started()
        monitor.probe_round()
        assert replica_state(alias) == "healthy"
        try:
            outcome = run_bounded(lambda: _two_reads_in_one_scope(alias, proxy.freeze), 20)
            assert outcome.seconds is not None, "the read was still blocked after 20 s"
            assert outcome.error is None, outcome.error
            emails, seconds = outcome.value
            print(f"\n[{alias}] read on a frozen replica: primary answered in {seconds:.3f} s")
            assert emails == [row]
            assert seconds < BOUND
            assert counters.snapshot()["replica-failed"] == 1
            assert replica_state(alias) == "down"
            assert _breaker(alias) != "closed"  # a hang opens the breaker at once
            (report,) = status().replicas
            assert report.last_error is not None
            assert "READ_TIMEOUT_S" in report.last_error
        finally:
            proxy.forward()


def test_a_long_query_on_a_live_replica_is_not_cut(proxied: Proxied, row: str) -> None:  # noqa: F811
    """A read longer than READ_TIMEOUT_S on a server that answers pings runs to its end."""
    with routed(replicas={"default": {"hang1": 1}}, read_timeout_s=0.5):
        monitor.ensure_started()
        monitor.probe_round()
        with routing_scope():
            queryset = User.objects.filter(email=row)
            assert queryset.db == "hang1"
            with connections["hang1"].cursor() as cursor:
                cursor.execute("SELECT pg_sleep(2.5), 42")
                assert cursor.fetchone() == ("", 42)
        assert counters.snapshot()["replica-failed"] == 0
        assert replica_state("hang1") == "healthy"


def test_conn_max_age_requests_on_a_replica_that_hangs(proxied: Proxied, row: str) -> None:  # noqa: F811
    """A persistent replica connection (CONN_MAX_AGE > 0) hangs between two requests."""
    proxy = proxied.proxies["hang1"]
    settings_dict = connections["hang1"].settings_dict
    settings_dict["CONN_MAX_AGE"] = 60
    times: list[float] = []

    def requests() -> list[Any]:
        client = Client()
        answers = []
        for i in range(4):
            if i == 1:
                proxy.freeze()
            started = time.monotonic()
            response = client.get(f"/read/{row}/")
            times.append(time.monotonic() - started)
            answers.append((response.status_code, response.json()))
        return answers

    try:
        with routed(replicas={"default": {"hang1": 1}}, read_timeout_s=LIMIT):
            monitor.ensure_started()
            monitor.probe_round()
            outcome = run_bounded(requests, 30)
            assert outcome.seconds is not None, "a request was still blocked after 30 s"
            assert outcome.error is None, outcome.error
            answers = outcome.value
    finally:
        settings_dict["CONN_MAX_AGE"] = 0
        proxy.forward()
    print(f"\n[CONN_MAX_AGE=60] request times {[round(t, 3) for t in times]} s")
    assert [status for status, _ in answers] == [200] * 4
    assert all(body["found"] for _, body in answers)
    assert answers[0][1]["alias"] == "hang1"
    assert [body["alias"] for _, body in answers[2:]] == ["default", "default"]
    assert max(times) < BOUND


def test_a_replica_that_hangs_does_not_blind_the_probes_to_another(
    proxied: Proxied,  # noqa: F811
    services: Services,
) -> None:
    """hang1 hangs; hang2 (the same standby through another proxy) falls behind and must
    be seen to: its lag keeps being measured and it leaves rotation."""
    max_lag = 1.0
    User.objects.create_user(email=EMAIL, password="x")
    services.wait_for_replica()
    reads: list[tuple[float, float, str, BaseException | None]] = []
    stop = threading.Event()

    def reader() -> None:  # requests all along: none may fail
        while not stop.is_set():
            started = time.monotonic()
            alias, error = "?", None
            try:
                with routing_scope():
                    queryset = User.objects.filter(email=EMAIL)
                    alias = queryset.db
                    assert queryset.exists()
            except BaseException as e:  # counted as a failed request
                error = e
            reads.append((started, time.monotonic() - started, alias, error))
            time.sleep(0.02)
        for conn in connections.all(initialized_only=True):
            conn.close()

    routing = {
        "replicas": {"default": {"hang1": 1, "hang2": 1}},
        "probe_interval_s": 0.2,
        "probe_timeout_s": 0.5,
        "max_lag_s": max_lag,
        "read_timeout_s": LIMIT,
    }
    thread = threading.Thread(target=reader, daemon=True)
    with routed(**routing):
        monitor.ensure_started()
        wait_until(
            lambda: replica_state("hang1") == replica_state("hang2") == "healthy",
            15,
            what="both replicas in rotation",
        )
        thread.start()
        try:
            # the reader has its connections open (a connect to a hung server costs the
            # alias's connect_timeout, not READ_TIMEOUT_S: see docs/routing.md)
            wait_until(
                lambda: {r[2] for r in reads} >= {"hang1", "hang2"}, 15, what="reads on both"
            )
            proxied.proxies["hang1"].freeze()
            wait_until(lambda: replica_state("hang1") == "down", 10, what="hang1 out of rotation")
            age = next(r.good_probe_age_s for r in status().replicas if r.alias == "hang1")
            wait_until(
                lambda: (
                    next(r.good_probe_age_s for r in status().replicas if r.alias == "hang1")
                    > (age or 0) + 0.5
                ),
                10,
                what="hang1's last good probe to age",
            )
            with services.replay_paused():
                User.objects.create_user(email="behind@example.com", password="x")
                wrote_at = time.monotonic()
                wait_until(lambda: replica_state("hang2") == "lagging", 15, what="hang2 lagging")
                left_at = time.monotonic()
                (hang2,) = [r for r in status().replicas if r.alias == "hang2"]
                assert hang2.lag_s is not None
                assert hang2.lag_s > max_lag
                probed = hang2.probed_at
                wait_until(
                    lambda: (
                        next(r.probed_at for r in status().replicas if r.alias == "hang2")
                        != probed
                    ),
                    5,
                    what="hang2 probed again while hang1 hangs",
                )
                assert User.objects.filter(email=EMAIL).db == "default"
        finally:
            stop.set()
            thread.join(30)
            proxied.proxies["hang1"].forward()
    failed = [r for r in reads if r[3] is not None]
    late = [r for r in reads if r[2] == "hang2" and r[0] > left_at]
    worst = max(r[1] for r in reads)
    print(
        f"\n[two replicas, hang1 frozen] {len(reads)} reads, {len(failed)} failed, "
        f"worst {worst:.3f} s; hang2 left rotation {left_at - wrote_at:.2f} s after the "
        f"write it did not replay (MAX_LAG_S={max_lag}); reads on hang2 after: {len(late)}"
    )
    assert not failed, failed[0][3]
    assert not late
    assert worst < BOUND
    assert left_at - wrote_at < max_lag + 5

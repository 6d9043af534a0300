"""Replica health on the real standby: lag, failover, failback, membership, signals."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from django.test import override_settings

from django_dbopt.routing import counters, routing_scope, status
from django_dbopt.routing.health import monitor
from django_dbopt.signals import replica_state_changed
from example_project.demo.models import User
from tests.routing_fixtures import (
    replica_state,
    routed,
    router_on,  # noqa: F401  (fixture)
    routing_settings,
)
from tests.services import Services
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


@pytest.fixture
def transitions() -> Any:
    seen: list[tuple[str, str, str]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append((kwargs["replica"], kwargs["old_state"], kwargs["new_state"]))

    replica_state_changed.connect(receiver, dispatch_uid="test-routing-health")
    yield seen
    replica_state_changed.disconnect(dispatch_uid="test-routing-health")


@pytest.mark.usefixtures("router_on")
def test_probe_reads_role_lag_and_cluster_identity(services: Services) -> None:
    services.wait_for_replica()
    monitor.probe_round()
    report = status()
    (replica,) = report.replicas
    (primary,) = report.primaries
    assert (replica.state, replica.in_rotation, replica.in_recovery) == ("healthy", True, True)
    assert replica.lag_bytes == 0
    assert replica.lag_s == 0.0
    assert replica.breaker == "closed"
    assert primary.state == "primary"
    assert primary.system_id
    assert primary.system_id.isdigit()
    assert primary.timeline == 1
    assert report.probing is True
    assert report.as_dict()["replicas"][0]["alias"] == "replica"


def _replay_age(services: Services) -> float:
    """Seconds since the last transaction the standby replayed was committed."""
    with services.connect("replica") as conn:
        (age,) = conn.execute(
            "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
        ).fetchone()
    return float(age)


def test_idle_primary_is_not_mistaken_for_lag(services: Services) -> None:
    """After a quiet spell the last replayed commit is old; the first new write must not
    make the replica look that far behind (the timestamp-only estimate would)."""
    with routed(max_lag_s=1.0):
        User.objects.create_user(email="before-quiet@example.com", password="x")
        services.wait_for_replica()
        monitor.ensure_started()
        wait_until(lambda: _replay_age(services) > 1.2, 30, what="a quiet spell on the primary")
        services.wait_for_replica()
        monitor.probe_round()  # sees the replica at the primary's position
        assert replica_state() == "healthy"
        with services.replay_paused():
            User.objects.create_user(email="after-quiet@example.com", password="x")
            monitor.probe_round()
            with services.connect("replica") as conn:
                (age,) = conn.execute(
                    "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
                ).fetchone()
            (replica,) = status().replicas
        if float(age) <= 1.0:
            pytest.skip("a background commit (autovacuum) was replayed during the quiet spell")
        # a timestamp-only estimate would call the lag `age` (> 1 s: out of rotation)
        assert replica.lag_bytes is not None
        assert replica.lag_bytes > 0
        assert replica.lag_s is not None
        assert replica.lag_s < 1.0
        assert replica.state == "healthy"


def test_lag_past_the_limit_takes_the_replica_out_and_back(
    services: Services, transitions: list[tuple[str, str, str]], caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="django_dbopt.routing")
    with routed(max_lag_bytes=0):
        services.wait_for_replica()
        monitor.probe_round()
        assert User.objects.all().db == "replica"
        with services.replay_paused():
            User.objects.create_user(email="lagging@example.com", password="x")
            monitor.probe_round()
            (replica,) = status().replicas
            assert replica.state == "lagging"
            assert replica.lag_bytes is not None
            assert replica.lag_bytes > 0
            assert replica.lag_s is not None
            assert replica.lag_s < 5  # a short pause is a short lag in seconds
            assert User.objects.all().db == "default"
            assert counters.snapshot()["no-fit-replica"] == 1
        services.wait_for_replica()
        monitor.probe_round()
        assert replica_state() == "recovering"  # 1 good probe of FAILBACK_PROBES=2
        assert User.objects.all().db == "default"
        monitor.probe_round()
        assert replica_state() == "healthy"
        assert User.objects.all().db == "replica"
    assert ("replica", "healthy", "lagging") in transitions
    assert ("replica", "lagging", "recovering") in transitions
    assert ("replica", "recovering", "healthy") in transitions
    assert "replica replica of default: healthy -> lagging" in caplog.text


def test_least_lagged_policy_serves_a_replica_within_staleness(services: Services) -> None:
    with routed(max_lag_bytes=0, no_fit_replica="least_lagged", max_staleness_s=60):
        services.wait_for_replica()
        monitor.probe_round()
        with services.replay_paused():
            User.objects.create_user(email="stale-ok@example.com", password="x")
            monitor.probe_round()
            assert replica_state() == "lagging"
            assert User.objects.all().db == "replica"
            assert counters.snapshot()["stale-replica"] == 1
            with routing_scope():  # but never for a scope that has to see its writes
                User.objects.create_user(email="stale-not-me@example.com", password="x")
                assert User.objects.all().db == "default"


def test_standby_stopped_mid_run_no_read_fails_and_it_comes_back(
    controllable_services: Services, transitions: list[tuple[str, str, str]]
) -> None:
    services = controllable_services
    User.objects.create_user(email="always@example.com", password="x")
    services.wait_for_replica()
    with routed(probe_interval_s=0.1):
        monitor.ensure_started()
        wait_until(lambda: replica_state() == "healthy", 30, what="the replica in rotation")
        assert User.objects.filter(email="always@example.com").exists()  # opens the connection
        served = []
        services.stop_standby()
        try:
            deadline = time.monotonic() + 30
            while replica_state() != "down":  # reads straight through, until probes notice
                assert time.monotonic() < deadline, "the probes never saw the standby down"
                with routing_scope():
                    queryset = User.objects.filter(email="always@example.com")
                    served.append(queryset.db)
                    assert queryset.exists()
                time.sleep(0.01)
            with routing_scope():
                assert User.objects.filter(email="always@example.com").db == "default"
            wait_until(
                lambda: status().replicas[0].breaker != "closed", 30, what="the breaker to open"
            )
            before = counters.snapshot()["breaker-open"]
            assert User.objects.filter(email="always@example.com").db == "default"
            assert counters.snapshot()["breaker-open"] == before + 1
        finally:
            services.start_standby()
        services.wait_for_replica(30)
        wait_until(lambda: replica_state() == "healthy", 30, what="the replica to return")
        # back through "recovering" (FAILBACK_PROBES good probes); a probe that saw the
        # restarted standby still catching up may have put "lagging" in between
        assert ("replica", "healthy", "down") in transitions
        assert transitions[-1] == ("replica", "recovering", "healthy")
        assert status().replicas[0].good_probes >= 2
        with routing_scope():
            assert User.objects.filter(email="always@example.com").db == "replica"
            assert User.objects.filter(email="always@example.com").exists()


def test_a_connection_refused_at_connect_time_falls_back(
    controllable_services: Services,
) -> None:
    """The replica dies between probes and this thread has no connection to it yet."""
    from django.db import connections

    services = controllable_services
    User.objects.create_user(email="refused@example.com", password="x")
    services.wait_for_replica()
    with routed():
        monitor.ensure_started()
        monitor.probe_round()
        assert replica_state() == "healthy"
        connections["replica"].close()
        services.stop_standby()
        try:
            queryset = User.objects.filter(email="refused@example.com")
            assert queryset.db == "default"
            assert queryset.exists()
            assert replica_state() == "down"
        finally:
            services.start_standby()


def test_replicas_added_and_removed_at_runtime(
    services: Services, transitions: list[tuple[str, str, str]]
) -> None:
    services.wait_for_replica()  # a standby restarted by an earlier test may still lag
    with routed():
        monitor.ensure_started()
        monitor.probe_round()
        assert User.objects.all().db == "replica"
        with override_settings(DBOPT={"ROUTING": {"REPLICAS": {}}}):
            assert status().replicas == []
            assert User.objects.all().db == "default"
        assert ("replica", "healthy", "removed") in transitions
        with override_settings(DBOPT=routing_settings()):
            assert [r.state for r in status().replicas] == ["unknown"]
            assert User.objects.all().db == "default"  # not probed yet: not fit
            monitor.probe_round()
            assert User.objects.all().db == "replica"


def test_a_read_on_a_dead_connection_is_run_on_the_primary(
    controllable_services: Services,
) -> None:
    """The replica dies between probes while this thread holds a connection to it."""
    services = controllable_services
    User.objects.create_user(email="dead-conn@example.com", password="x")
    services.wait_for_replica()
    with routed():
        monitor.ensure_started()
        monitor.probe_round()
        with routing_scope():
            assert User.objects.filter(email="dead-conn@example.com").db == "replica"
            assert User.objects.filter(email="dead-conn@example.com").exists()
            services.stop_standby()
            try:
                rows = list(User.objects.filter(email="dead-conn@example.com"))
                assert [u.email for u in rows] == ["dead-conn@example.com"]
                assert counters.snapshot()["replica-failed"] == 1
                assert replica_state() == "down"
                assert User.objects.filter(email="dead-conn@example.com").db == "default"
            finally:
                services.start_standby()


def test_probes_start_lazily_on_the_first_read(services: Services) -> None:
    services.wait_for_replica()
    with routed(probe_interval_s=0.1):
        assert not monitor.running  # nothing started at import or app start-up
        assert User.objects.all().db == "default"  # not probed yet: no fit replica
        assert monitor.running
        wait_until(lambda: replica_state() == "healthy", 30, what="the first probes")
        assert User.objects.all().db == "replica"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() in a threaded process
def test_a_forked_child_starts_afresh_and_leaves_the_parent_probes_alone(
    services: Services,
) -> None:
    import gc
    import os

    services.wait_for_replica()
    with routed():
        monitor.ensure_started()
        monitor.probe_round()
        assert replica_state() == "healthy"
        pid = os.fork()
        if pid == 0:  # the child: no thread, no state, and it must not end the parent's
            gc.collect()  # sessions when the inherited objects are collected
            os._exit(0 if not monitor.running and not monitor.tables else 1)
        _, code = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(code) == 0
        monitor.probe_round()
        assert replica_state() == "healthy"  # the parent's probe connection still works

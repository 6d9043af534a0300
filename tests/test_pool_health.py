"""The health endpoint: liveness without a database, readiness read-only per alias."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from django.test import Client, override_settings

from tests.pool_fixtures import dead_alias  # noqa: F401
from tests.services import Services
from tests.waiting import wait_until

URLS = "tests.pool_fixtures"


def _get(path: str) -> Any:
    with override_settings(ROOT_URLCONF=URLS):
        return Client().get(path)


def test_liveness_needs_no_database() -> None:
    # No django_db mark: pytest-django makes any database access an error here.
    response = _get("/dbopt/health/live/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_health_refuses_writes_methods() -> None:
    with override_settings(ROOT_URLCONF=URLS):
        assert Client().post("/dbopt/health/ready/").status_code == 405


def _xact_commit_on_standby(services: Services) -> int:
    with services.connect("replica") as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s",
            [connections["replica"].settings_dict["NAME"]],
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_readiness_answers_for_a_replica_alone(services: Services) -> None:
    before = _xact_commit_on_standby(services)
    with override_settings(DBOPT={"POOL": {"HEALTH_DATABASES": ["replica"]}}):
        response = _get("/dbopt/health/ready/")
    connections["replica"].close()  # ending the session flushes its statistics
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    (check,) = body["databases"]
    assert check["alias"] == "replica"
    assert check["reachable"] is True
    assert check["role"] == "replica"  # pg_is_in_recovery() on the standby
    assert check["lag_s"] is not None
    assert check["lag_bytes"] is not None
    assert check["error"] is None
    # The probe ran on the standby (a write there would have failed and made this a 503).
    wait_until(lambda: _xact_commit_on_standby(services) > before, 30, 0.1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_readiness_reports_the_primary_and_its_replica(services: Services) -> None:
    # the aliases named, so that one another test added and removed is never asked
    settings = {"POOL": {"HEALTH_DATABASES": ["default", "replica"]}}
    with override_settings(DBOPT=settings):
        response = _get("/dbopt/health/ready/")
    assert response.status_code == 200
    roles = {c["alias"]: c["role"] for c in response.json()["databases"]}
    assert roles == {"default": "primary", "replica": "replica"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "dead"])
def test_unreachable_primary_makes_it_unavailable(dead_alias: str) -> None:  # noqa: F811
    with override_settings(DBOPT={"POOL": {"HEALTH_DATABASES": ["default", "dead"]}}):
        response = _get("/dbopt/health/ready/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    dead = body["databases"][1]
    assert dead["reachable"] is False
    assert dead["error"] == "OperationalError"  # the class only: details are for staff


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "dead"])
def test_unreachable_replica_only_degrades(dead_alias: str) -> None:  # noqa: F811
    settings = {
        "ROUTING": {"REPLICAS": {"default": {"dead": 1.0}}},
        "POOL": {"HEALTH_DATABASES": ["default", "dead"]},
    }
    with override_settings(DBOPT=settings):
        response = _get("/dbopt/health/ready/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_lagging_replica_degrades(services: Services) -> None:
    from example_project.demo.models import User

    settings = {
        "ROUTING": {"REPLICAS": {"default": {"replica": 1.0}}, "MAX_LAG_S": 0.2},
        "POOL": {"HEALTH_DATABASES": ["default", "replica"]},
    }
    services.wait_for_replica()
    with services.replay_paused(), override_settings(DBOPT=settings):
        User.objects.create_user(email="lag@example.com", password="x")
        # readiness answers from the probes' state: wait until they have seen the lag
        answers: list[dict[str, Any]] = []

        def degraded() -> bool:
            response = _get("/dbopt/health/ready/")
            assert response.status_code == 200
            answers.append(response.json())
            return bool(answers[-1]["status"] == "degraded")

        wait_until(degraded, 30, 0.1, what="readiness to report the lagging replica")
    assert answers[-1]["databases"][1]["lag_s"] >= 0.2

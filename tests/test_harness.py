"""The test services are real: streaming replication, replay pause, standby stop/start."""

from __future__ import annotations

import psycopg
import pytest
from django.db import InternalError, connections

from example_project.demo.models import User
from tests.services import Services

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


def _replica_has(email: str) -> bool:
    return User.objects.using("replica").filter(email=email).exists()


def test_replica_is_a_real_standby(services: Services) -> None:
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_setting('port')")
        in_recovery, port = cursor.fetchone()
    assert in_recovery is True
    assert port != connections["default"].settings_dict["PORT"]
    assert (
        connections["replica"].settings_dict["NAME"]
        == connections["default"].settings_dict["NAME"]
    )


def test_replica_refuses_writes(services: Services) -> None:
    with (
        pytest.raises(InternalError, match="read-only"),
        connections["replica"].cursor() as cursor,
    ):
        cursor.execute("CREATE TABLE not_here (x int)")


def test_committed_row_appears_on_replica(services: Services) -> None:
    User.objects.create_user(email="streamed@example.com", password="x")
    services.wait_for_replica()
    assert _replica_has("streamed@example.com")


def test_paused_replay_hides_new_rows_until_resumed(services: Services) -> None:
    services.wait_for_replica()
    with services.replay_paused():
        User.objects.create_user(email="paused@example.com", password="x")
        assert User.objects.filter(email="paused@example.com").exists()
        assert not _replica_has("paused@example.com")
    services.wait_for_replica()
    assert _replica_has("paused@example.com")


def test_stopped_standby_refuses_connections_and_comes_back(
    controllable_services: Services,
) -> None:
    services = controllable_services
    connections["replica"].close()
    services.stop_standby()
    try:
        with pytest.raises(psycopg.OperationalError):
            services.connect("replica").close()
        User.objects.create_user(email="while-down@example.com", password="x")
    finally:
        services.start_standby()
    services.wait_for_replica()
    assert _replica_has("while-down@example.com")


def test_redis_stops_and_starts(controllable_services: Services) -> None:
    import redis

    client = redis.Redis.from_url(controllable_services.redis_url, socket_timeout=1)
    client.set("k", "v")
    controllable_services.stop_redis()
    try:
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(controllable_services.redis_url, socket_connect_timeout=1).ping()
    finally:
        controllable_services.start_redis()
    fresh = redis.Redis.from_url(controllable_services.redis_url)
    assert fresh.ping()
    assert fresh.get("k") is None  # nothing persisted across the restart

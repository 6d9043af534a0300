"""ReplicaRouter on the real primary + standby: what goes where."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import router, transaction

from django_dbopt.routing import counters, routing_scope, use_primary, use_replica
from django_dbopt.routing.health import monitor
from example_project.demo.models import User
from tests.routing_fixtures import capture, router_on, writes  # noqa: F401  (fixture)
from tests.services import Services

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
    pytest.mark.usefixtures("router_on"),
]


def test_reads_go_to_the_replica_and_writes_to_the_primary(services: Services) -> None:
    with capture("default", "replica") as seen:
        user = User.objects.create_user(email="rw@example.com", password="x")
        services.wait_for_replica()
        monitor.probe_round()
        assert User.objects.filter(email="rw@example.com").count() == 1
    assert {a for a, _ in writes(seen)} == {"default"}
    assert [a for a, sql in seen if "COUNT(" in sql] == ["replica"]
    loaded = User.objects.get(pk=user.pk)
    assert loaded._state.db == "replica"
    loaded.full_name = "Changed"
    loaded.save()  # an object read on the replica is saved on its primary
    services.wait_for_replica()
    assert User.objects.using("default").get(pk=user.pk).full_name == "Changed"
    assert counters.snapshot()["replica"] >= 2


def test_reads_inside_atomic_stay_on_the_primary(services: Services) -> None:
    User.objects.create_user(email="atomic@example.com", password="x")
    services.wait_for_replica()
    with capture("default", "replica") as seen, transaction.atomic():
        assert User.objects.filter(email="atomic@example.com").exists()
        assert User.objects.count() >= 1
    assert seen
    assert {a for a, _ in seen} == {"default"}
    assert counters.snapshot()["in-transaction"] >= 2


def test_select_for_update_runs_on_the_primary(services: Services) -> None:
    User.objects.create_user(email="locked@example.com", password="x")
    services.wait_for_replica()
    with capture("default", "replica") as seen, transaction.atomic():
        locked = User.objects.select_for_update().get(email="locked@example.com")
    assert locked._state.db == "default"
    assert [a for a, sql in seen if "FOR UPDATE" in sql] == ["default"]
    assert not [a for a, _ in seen if a == "replica"]


def test_one_replica_per_scope_and_primary_after_a_write(services: Services) -> None:
    services.wait_for_replica()
    with routing_scope() as scope:
        assert User.objects.all().db == "replica"
        assert scope.pinned == {"default": "replica"}
        User.objects.create_user(email="scoped@example.com", password="x")
        assert User.objects.all().db == "default"
        assert scope.wrote == {"default"}


def test_use_primary_and_use_replica(services: Services) -> None:
    services.wait_for_replica()
    with use_primary():
        assert User.objects.all().db == "default"
        with use_replica():
            assert User.objects.all().db == "replica"
        assert User.objects.all().db == "default"

    @use_primary()
    def on_primary() -> str:
        return User.objects.all().db

    assert on_primary() == "default"
    with routing_scope():
        User.objects.create_user(email="explicit@example.com", password="x")
        assert User.objects.all().db == "default"
        with use_replica(max_lag=60):
            assert User.objects.all().db == "replica"  # staleness accepted on purpose
    with transaction.atomic(), use_replica():
        assert User.objects.all().db == "default"  # never outside the transaction
    assert counters.snapshot()["forced-primary"] >= 3


def test_migrations_never_touch_the_replica(services: Services) -> None:
    assert router.allow_migrate_model("replica", User) is False
    assert router.allow_migrate_model("default", User) is True
    assert router.allow_migrate("replica", "demo") is False
    with capture("replica") as seen:
        call_command("migrate", database="replica", stdout=StringIO(), verbosity=0)
    assert writes(seen) == []
    with capture("default", "replica") as seen:
        call_command("migrate", database="default", stdout=StringIO(), verbosity=0)
    assert not [a for a, _ in seen if a == "replica"]


def test_relations_are_allowed_within_the_cluster(services: Services) -> None:
    user = User.objects.create_user(email="owner@example.com", password="x")
    services.wait_for_replica()
    on_replica = User.objects.using("replica").get(pk=user.pk)
    on_primary = User.objects.using("default").get(pk=user.pk)
    assert router.allow_relation(on_primary, on_replica) is True
    elsewhere = User(email="x@example.com")
    elsewhere._state.db = "analytics"  # an alias in no cluster of ours
    assert router.allow_relation(on_primary, elsewhere) is False

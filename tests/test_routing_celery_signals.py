"""The Celery signal handlers on their own (the real worker is in test_routing_celery)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import transaction
from django.test import override_settings

from django_dbopt.routing import routing_scope, tokens
from django_dbopt.routing.celery import HEADER, on_postrun, on_prerun, on_publish
from django_dbopt.routing.scope import current_scope
from django_dbopt.routing.tokens import Position
from example_project.demo.models import User
from tests.routing_fixtures import routed
from tests.services import Services, wait_until

ROUTING = {"ROUTING": {"REPLICAS": {"default": {"replica": 1}}}}


@override_settings(DBOPT=ROUTING)
def test_publish_adds_the_scope_positions_and_the_worker_requires_them() -> None:
    headers: dict[str, object] = {}
    with routing_scope() as scope:
        scope.require("default", Position(42, "7001", 1))
        on_publish(headers=headers)
    assert tokens.loads(str(headers[HEADER]), 60) == {"default": Position(42, "7001", 1)}

    task = SimpleNamespace(request=SimpleNamespace(**{HEADER: headers[HEADER]}))
    on_prerun(task_id="t1", task=task)
    running = current_scope.get()
    assert running is not None
    assert running.required == {"default": Position(42, "7001", 1)}
    on_postrun(task_id="t1")
    assert current_scope.get() is None


@override_settings(DBOPT=ROUTING)
def test_no_scope_no_header_and_a_bad_header_is_ignored() -> None:
    headers: dict[str, object] = {}
    on_publish(headers=headers)
    assert headers == {}
    task = SimpleNamespace(request=SimpleNamespace(**{HEADER: "tampered"}))
    on_prerun(task_id="t2", task=task)
    running = current_scope.get()
    assert running is not None
    assert running.required == {}
    on_postrun(task_id="t2")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_a_task_published_on_commit_carries_a_position_covering_the_write(
    services: Services,
) -> None:
    headers: dict[str, object] = {}
    with routed(), routing_scope(), transaction.atomic():
        User.objects.create_user(email="on-commit@example.com", password="x")
        transaction.on_commit(lambda: on_publish(headers=headers))
    (position,) = tokens.loads(str(headers[HEADER]), 60).values()
    wait_until(lambda: services.replica_caught_up(tokens.format_lsn(position.lsn)), 15, "replay")
    # a replica that has replayed the position has the row
    assert User.objects.using("replica").filter(email="on-commit@example.com").exists()

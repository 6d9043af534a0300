"""The Celery signal handlers on their own (the real worker is in test_routing_celery)."""

from __future__ import annotations

from types import SimpleNamespace

from django.test import override_settings

from django_dbopt.routing import routing_scope, tokens
from django_dbopt.routing.celery import HEADER, on_postrun, on_prerun, on_publish
from django_dbopt.routing.scope import current_scope
from django_dbopt.routing.tokens import Position

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

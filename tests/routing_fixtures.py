"""Helpers for the routing tests: settings, a clean monitor, statement capture, views."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import override_settings
from django.urls import include, path

from django_dbopt.routing import counters
from django_dbopt.routing.health import monitor
from django_dbopt.sqlkind import statement_kind
from example_project.demo.models import User

ROUTER = "django_dbopt.routing.ReplicaRouter"
MIDDLEWARE = "django_dbopt.routing.ReadYourWritesMiddleware"


def routing_settings(**routing: Any) -> dict[str, Any]:
    """``DBOPT`` for the suite's primary (``default``) and standby (``replica``).

    The probe interval is long: tests drive probes with ``monitor.probe_round()`` unless
    they ask for a short interval to watch the background thread work.
    """
    values: dict[str, Any] = {
        "REPLICAS": {"default": {"replica": 1}},
        "PROBE_INTERVAL_S": 60.0,
        "PROBE_TIMEOUT_S": 1.0,
        "FAILBACK_PROBES": 2,
        "BREAKER_FAILURES": 2,
        "BREAKER_RESET_S": 0.2,
    }
    values.update({k.upper(): v for k, v in routing.items()})
    return {"ROUTING": values}


@contextlib.contextmanager
def routed(**routing: Any) -> Iterator[None]:
    """Router + middleware + test URLs on, a fresh monitor and counters."""
    from django.conf import settings

    monitor.reset()
    counters.clear()
    with override_settings(
        DATABASE_ROUTERS=[ROUTER],
        DBOPT=routing_settings(**routing),
        MIDDLEWARE=[*settings.MIDDLEWARE, MIDDLEWARE],
        ROOT_URLCONF="tests.routing_fixtures",
    ):
        try:
            yield
        finally:
            monitor.reset()
            counters.clear()


@pytest.fixture
def router_on() -> Iterator[None]:
    with routed():
        monitor.ensure_started()
        monitor.probe_round()
        yield


@contextlib.contextmanager
def capture(*aliases: str) -> Iterator[list[tuple[str, str]]]:
    """Record (alias, sql) of every statement run on ``aliases`` in this thread."""
    seen: list[tuple[str, str]] = []
    with contextlib.ExitStack() as stack:
        for alias in aliases:

            def wrapper(
                execute: Callable[..., Any],
                sql: str,
                params: Any,
                many: bool,
                context: dict[str, Any],
                alias: str = alias,
            ) -> Any:
                seen.append((alias, sql))
                return execute(sql, params, many, context)

            stack.enter_context(connections[alias].execute_wrapper(wrapper))
        yield seen


def writes(seen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(a, sql) for a, sql in seen if statement_kind(sql) not in ("read", "other")]


def replica_state(alias: str = "replica") -> str:
    replicas, _ = monitor.snapshot()
    return next(r.state for r in replicas if r.alias == alias)


# -- views for the test client (ROOT_URLCONF = "tests.routing_fixtures") -------------------
def write_view(request: HttpRequest, email: str) -> HttpResponse:
    User.objects.create_user(email=email, password="x")
    return HttpResponse("written")


def read_view(request: HttpRequest, email: str) -> JsonResponse:
    queryset = User.objects.filter(email=email)
    return JsonResponse({"alias": queryset.db, "found": queryset.exists()})


async def async_read_view(request: HttpRequest, email: str) -> JsonResponse:
    queryset = User.objects.filter(email=email)
    found = await queryset.aexists()
    return JsonResponse({"alias": queryset.db, "found": found})


def session_set_view(request: HttpRequest, value: str) -> HttpResponse:
    request.session["value"] = value  # saved by SessionMiddleware on the way out
    return HttpResponse("set")


def session_get_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"value": request.session.get("value")})


urlpatterns = [
    path("session/set/<str:value>/", session_set_view),
    path("session/get/", session_get_view),
    path("write/<str:email>/", write_view),
    path("read/<str:email>/", read_view),
    path("async-read/<str:email>/", async_read_view),
    path("", include("example_project.urls")),
]

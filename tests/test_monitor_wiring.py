"""Checks, the middleware's switches, Celery task scopes and command scopes."""

from __future__ import annotations

import sys

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import override_settings

from django_dbopt.checks import MONITOR_MIDDLEWARE, check_monitor
from django_dbopt.middleware import QueryMonitorMiddleware
from django_dbopt.monitor.aggregates import AGGREGATES
from django_dbopt.monitor.capture import _default_view
from tests.monitor_fixtures import fresh_monitor, monitor_config  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_monitor")


def ids(**overrides: object) -> list[str]:
    with override_settings(**overrides):  # type: ignore[arg-type]
        return [m.id or "" for m in check_monitor()]


def test_store_cache_must_be_django_redis() -> None:
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert "django_dbopt.E010" in ids(CACHES=caches, DBOPT={"MONITOR": {"STORE_CACHE": "default"}})


def test_missing_middleware_is_a_warning_unless_disabled() -> None:
    assert "django_dbopt.W010" in ids(MIDDLEWARE=[], DBOPT={})
    assert ids(MIDDLEWARE=[MONITOR_MIDDLEWARE], DBOPT={}) == []
    assert ids(MIDDLEWARE=[], DBOPT={"MONITOR": {"ENABLED": False}}) == []


def test_middleware_not_used_when_disabled() -> None:
    with override_settings(DBOPT=monitor_config(enabled=False)), pytest.raises(MiddlewareNotUsed):
        QueryMonitorMiddleware(lambda request: HttpResponse())


@pytest.mark.django_db
def test_celery_tasks_get_their_own_scope() -> None:
    from celery import Celery, shared_task

    app = Celery("dbopt-tests", set_as_current=False)
    app.conf.task_always_eager = True

    @shared_task(name="tests.count_users")
    def count_users() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM users")
            return int(cursor.fetchone()[0])

    count_users.apply()
    views = {view for (_, view), s in AGGREGATES.peek().items() if "users" in s.fingerprint.sql}
    assert views == {"task:tests.count_users"}


def test_queries_outside_a_scope_are_named_after_the_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "argv", ["manage.py", "seed_demo", "--tasks", "5"])
    assert _default_view() == "command:seed_demo"
    monkeypatch.setattr(sys, "argv", ["gunicorn", "app.wsgi"])
    assert _default_view() == "-"


def test_request_outside_urlconf_is_grouped_as_no_view() -> None:
    from django_dbopt.middleware import view_name

    request = HttpRequest()
    request.path_info = "/no/such/page/"
    assert view_name(request) == "(no view)"


@pytest.mark.django_db
def test_management_commands_start_the_flusher_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_dbopt.monitor import capture, flush

    started: list[bool] = []
    monkeypatch.setattr(flush, "ensure_flusher", lambda: started.append(True))
    monkeypatch.setattr(capture, "_command_flusher_started", False)
    monkeypatch.setattr(sys, "argv", ["manage.py", "nightly_job"])
    capture.runtime.cache_clear()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute("SELECT 2")
        assert started == [True]
        monkeypatch.setattr(capture, "_command_flusher_started", False)
        monkeypatch.setattr(sys, "argv", ["manage.py", "test"])
        capture.runtime.cache_clear()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert started == [True]
    finally:
        monkeypatch.undo()
        capture.runtime.cache_clear()

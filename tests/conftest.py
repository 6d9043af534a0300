"""Starts the real services for the PostgreSQL run and wires Django's test databases to them.

Two runs share these tests (see README): ``tests.settings`` (PostgreSQL primary + streaming
standby + Redis, all started here) and ``tests.settings_sqlite`` (the embedded default).
Tests that need PostgreSQL are marked ``postgres``; the SQLite run deselects them.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.services import ENV_PRIMARY, ENV_REDIS, ENV_REPLICA, Services, start_services

_services: Services | None = None

pytest_plugins = ["tests.backup_fixtures"]


def on_postgres() -> bool:
    return bool(settings.DATABASES["default"]["ENGINE"].endswith("postgresql"))


def _apply(url: str, alias: str) -> None:
    parts = urlsplit(url)
    db = settings.DATABASES[alias]
    db["HOST"] = parts.hostname or "127.0.0.1"
    db["PORT"] = str(parts.port or 5432)
    db["USER"] = parts.username or "postgres"
    db["PASSWORD"] = parts.password or ""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--each-extra",
        action="store_true",
        help="Also run the plain-project test once per extra (a venv each: minutes each).",
    )


def pytest_configure(config: pytest.Config) -> None:
    global _services
    config.addinivalue_line("markers", "postgres: needs the PostgreSQL primary + standby + Redis")
    config.addinivalue_line(
        "markers", 'slow: runs load for seconds or starts its own servers (skip: -m "not slow")'
    )
    config.addinivalue_line("markers", "browser: drives chromium (skip with -m 'not browser')")
    config.addinivalue_line(
        "markers", "each_extra: the plain-project test once per extra; skipped unless --each-extra"
    )
    if not on_postgres() or _services is not None:
        return
    from django.db import connections

    # Wrappers may exist already; they share the settings dicts updated in place below,
    # but none may have connected yet.
    if any(c.connection is not None for c in connections.all(initialized_only=True)):
        raise RuntimeError("a database connection was opened before the services started")
    _services = start_services()
    if _services.folder is not None:
        atexit.register(_services.stop)  # even if the run is interrupted
    _apply(_services.primary_url, "default")
    _apply(_services.replica_url, "replica")
    settings.CACHES["redis"]["LOCATION"] = _services.redis_url
    # Subprocesses started by tests (multi-process checks) attach to the same servers.
    os.environ[ENV_PRIMARY] = _services.primary_url
    os.environ[ENV_REPLICA] = _services.replica_url
    os.environ[ENV_REDIS] = _services.redis_url


def pytest_unconfigure(config: pytest.Config) -> None:
    if _services is not None and _services.folder is not None:
        _services.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--each-extra"):
        each = pytest.mark.skip(reason="one venv per extra: run with --each-extra")
        for item in items:
            if "each_extra" in item.keywords:
                item.add_marker(each)
    if on_postgres():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run the PostgreSQL suite (README)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def services() -> Services:
    """The running PostgreSQL primary, standby and Redis, with their helpers."""
    if _services is None:
        pytest.skip("needs the PostgreSQL run")
    return _services


@pytest.fixture(scope="session")
def controllable_services(services: Services) -> Services:
    """Like ``services``, for tests that stop and start servers (skipped on external ones)."""
    if not services.controllable:
        pytest.skip("servers come from DBOPT_TEST_* variables; the suite cannot stop them")
    return services


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: object) -> Iterator[None]:
    """After Django made the test database on the primary, read it on the standby.

    Django's runner re-points a mirror alias at its target; undo that for ``replica`` so
    it connects to the standby itself, reading ``test_dbopt`` through replication.
    """
    from django.db import connections

    if on_postgres():
        replica = connections["replica"]
        replica.close()
        replica.settings_dict = {
            **settings.DATABASES["replica"],
            "NAME": connections["default"].settings_dict["NAME"],
        }
    yield
    for conn in connections.all(initialized_only=True):
        conn.close()


@pytest.fixture(scope="session", autouse=True)
def _probes_stopped_before_the_test_databases_go(django_db_setup: None) -> Iterator[None]:
    """Readiness and the alert measures start the router's probe threads, which keep their
    connections to the test database open: stop them before pytest-django drops it (its
    teardown runs after this one's), whichever test ran last."""
    yield
    from django_dbopt.routing.health import monitor

    monitor.reset()

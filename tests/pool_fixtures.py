"""Helpers for the pool tests: database aliases added for one test and removed after.

``override_settings(DATABASES=...)`` does not rebuild ``connections`` (Django warns), so
these add an alias to ``settings.DATABASES`` (the dict ``connections`` reads) with
Django's defaults filled in, and remove it, its wrapper and its pool afterwards.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import os
import pwd
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from django_dbopt.pool.stats import forget_retired, live_pools
from tests.services import PgServer, ServiceError, _as_user, _run, free_port, pg_bindir

MANAGED = "django_dbopt.pool.postgresql"


@contextlib.contextmanager
def extra_database(alias: str, conf: dict[str, Any]) -> Iterator[Any]:
    # Django fills its defaults in (it insists on a "default" entry, thrown away here).
    settings.DATABASES[alias] = connections.configure_settings({"default": {}, alias: conf})[alias]
    try:
        yield connections[alias]
    finally:
        _drop(alias)
        del settings.DATABASES[alias]


def primary_conf(**overrides: Any) -> dict[str, Any]:
    """The suite's ``default`` database (its test database), as a fresh settings dict."""
    base = copy.deepcopy(connections["default"].settings_dict)
    base["TEST"] = {"MIRROR": "default"}
    base["OPTIONS"] = {}
    base.update(overrides)
    return base


@pytest.fixture(scope="module")
def pooled_alias(django_db_setup: None) -> Iterator[str]:
    """A ``pooled`` alias on the primary's test database, for a test module.

    Added before the tests' database access rules are made, so tests can list it in
    ``django_db(databases=[...])``; flagged as a mirror of ``default`` so nothing is
    created or flushed for it.
    """
    conf = primary_conf(ENGINE=MANAGED, OPTIONS={"pool": True})
    with extra_database("pooled", conf):
        yield "pooled"


def _drop(alias: str) -> None:
    wrapper = connections[alias]
    with contextlib.suppress(Exception):
        wrapper.close()
    pool = live_pools().pop(alias, None)
    if pool is not None:
        pool.close(timeout=1)
    forget_retired()
    del connections[alias]


@contextlib.contextmanager
def pooled(
    alias: str = "pooled",
    engine: str = MANAGED,
    options: dict[str, Any] | None = None,
    **pool: Any,
) -> Iterator[Any]:
    """Re-configure ``alias`` with ``OPTIONS["pool"] = pool`` (and other ``options``) and a
    fresh wrapper and pool."""
    conf = settings.DATABASES[alias]
    conf["ENGINE"] = engine
    conf["OPTIONS"] = {**(options or {}), "pool": pool or True}
    _drop(alias)
    try:
        yield connections[alias]
    finally:
        _drop(alias)


def hold_connection(alias: str, ready: threading.Event, release: threading.Event) -> None:
    """Thread body: take a pooled connection, keep it until ``release`` is set."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
    ready.set()
    release.wait(20)
    connections[alias].close()


@contextlib.contextmanager
def held_elsewhere(alias: str) -> Iterator[threading.Thread]:
    """A thread holding one connection of ``alias`` for the duration of the block."""
    ready, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=hold_connection, args=(alias, ready, release))
    thread.start()
    try:
        assert ready.wait(10), "the holding thread did not get a connection"
        yield thread
    finally:
        release.set()
        thread.join(20)


# -- a URLconf for request-end tests (ROOT_URLCONF="tests.pool_fixtures") ---------------
_leaky_release = threading.Event()
_leaky_threads: list[threading.Thread] = []


def leaky_view(request: HttpRequest) -> HttpResponse:
    """Starts a thread, in the request's context, that keeps a pooled connection."""
    ready = threading.Event()
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(hold_connection, "pooled", ready, _leaky_release)
    )
    thread.start()
    _leaky_threads.append(thread)
    ready.wait(10)
    return HttpResponse("ok")


def tidy_view(request: HttpRequest) -> HttpResponse:
    with connections["pooled"].cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok")


urlpatterns = [
    path("leaky/", leaky_view),
    path("tidy/", tidy_view),
    path("dbopt/", include("django_dbopt.urls")),
]


# -- a throwaway PostgreSQL server the restart test may stop (never the suite's primary) ---
@contextlib.contextmanager
def throwaway_postgres() -> Iterator[PgServer]:
    user = _as_user()
    bindir = pg_bindir()
    folder = Path(tempfile.mkdtemp(prefix="dbopt-pool-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = PgServer(folder / "data", free_port(), folder / "log", user, bindir)
    try:
        _run(
            [
                str(bindir / "initdb"),
                *("-D", str(server.data), "-U", "postgres", "--auth=trust", "--no-sync"),
                *("-E", "UTF8", "--locale=C"),
            ],
            user,
        )
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {server.port}\n"
                f"unix_socket_directories = '{folder}'\nfsync = off\nmax_connections = 30\n"
            )
        server.start()
        yield server
    finally:
        if server.running:
            with contextlib.suppress(ServiceError):
                server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def restartable_alias(django_db_setup: None) -> Iterator[PgServer]:
    """Alias ``restartable``: a pooled database on a server of its own, stopped at will."""
    with throwaway_postgres() as server:
        conf = primary_conf(
            ENGINE=MANAGED,
            NAME="postgres",
            PORT=str(server.port),
            OPTIONS={"pool": {"min_size": 2, "max_size": 4, "timeout": 10}},
        )
        with extra_database("restartable", conf):
            yield server


@pytest.fixture(scope="module")
def dead_alias(django_db_setup: None) -> Iterator[str]:
    """Alias ``dead``: PostgreSQL on a port nothing listens on."""
    with extra_database("dead", primary_conf(PORT=str(free_port()))):
        yield "dead"

"""Settings and helpers shared by the cache tests (``tests/test_cache_*.py``)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

from tests.services import ENV_REDIS


def redis_url() -> str:
    return os.environ.get(ENV_REDIS) or str(settings.CACHES["redis"]["LOCATION"])


def caches_setting(location: str = "tests", **options: Any) -> dict[str, Any]:
    """CACHES with a TwoTierCache as ``default`` over the suite's Redis as ``redis``.

    The tests clear Redis often, so the restart quarantine is off unless asked for."""
    redis_alias = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": redis_url(),
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    }
    base = {"BACKEND": "django_dbopt.cache.TwoTierCache", "LOCATION": location}
    opts = {"L2": "redis", "RESTART_QUARANTINE": 0, **options}
    return {
        "default": {**base, "OPTIONS": opts},
        "prefix": {**base, "KEY_PREFIX": f"cacheprefix{os.getpid()}", "OPTIONS": opts},
        "v2": {**base, "VERSION": 2, "OPTIONS": opts},
        "redis": redis_alias,
    }


def orm_settings(models: list[str] | None = None, **cache: Any) -> dict[str, Any]:
    """DBOPT turning ORM caching on for ``models`` (default: the demo app)."""
    section = {"ORM_MODELS": ["demo"] if models is None else models, **cache}
    return {
        "CACHE": section,
        "ROUTING": {"REPLICAS": {"default": {"replica": 1}}},
    }


# -- child processes for the multi-process checks --------------------------------------
# Started with multiprocessing's "spawn": a fresh interpreter that configures Django from
# the URLs the suite exports (tests.services ENV_*), using the suite's test database.


def setup_child(
    db_name: str, options: dict[str, Any] | None = None, location: str = "tests", **cache: Any
) -> None:
    from urllib.parse import urlsplit

    import django
    from django.conf import settings as dj_settings

    from tests import settings_base
    from tests.services import ENV_PRIMARY

    parts = urlsplit(os.environ[ENV_PRIMARY])
    values = {k: getattr(settings_base, k) for k in dir(settings_base) if k.isupper()}
    values["DATABASES"] = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": parts.hostname,
            "PORT": str(parts.port),
            "USER": parts.username or "postgres",
            "NAME": db_name,
        }
    }
    values["CACHES"] = caches_setting(location, **{"RESTART_QUARANTINE": 3.0, **(options or {})})
    values["DBOPT"] = {"CACHE": {"ORM_MODELS": ["demo"], **cache}}
    dj_settings.configure(**values)
    django.setup()


def stale_writer(db_name: str, pk: int, count: int, committed: Any, done: Any) -> None:
    """Commit ``1..count`` into the row, publishing each value once its commit returned."""
    import faulthandler
    import sys
    import time

    # it takes seconds: if it ever hangs, show where and end, rather than wait for the test
    faulthandler.dump_traceback_later(240, exit=True, file=sys.stderr)  # a busy machine: minutes

    from django.db import transaction

    setup_child(db_name)
    from example_project.demo.models import User

    try:
        for value in range(1, count + 1):
            if value % 2:
                with transaction.atomic():
                    User.objects.filter(pk=pk).update(failed_login_count=value)
            else:
                user = User.objects.get(pk=pk)
                user.failed_login_count = value
                user.save(update_fields=["failed_login_count"])
            committed.value = value
            time.sleep(0.004)
    finally:
        done.set()


def stale_reader(
    db_name: str, pk: int, committed: Any, ready: Any, done: Any, out: Any, busy: bool = False
) -> None:
    """Read the row through the ORM cache until the writer is done; count stale reads.
    ``busy``: a second thread spins in pure Python all along, so the cache's listener
    thread has to fight for the GIL (what made pub/sub alone serve stale reads)."""
    import threading
    import time

    from django.core.cache import caches as child_caches

    setup_child(db_name)
    from example_project.demo.models import User

    state = child_caches["default"].state
    state.wait_l1(30)
    User.objects.get(pk=pk)  # a fresh Redis starts its restart quarantine here
    time.sleep(state.config.restart_quarantine_s)
    if busy:
        threading.Thread(target=_spin, args=(done,), daemon=True).start()
    ready.set()
    reads = stale = errors = 0
    deadline = time.monotonic() + 300
    while not done.is_set() and time.monotonic() < deadline:
        floor = committed.value
        try:
            # in turn: the get(pk) fast path, a list keyed before compilation, and the
            # SQL-level cache (values_list)
            if reads % 3 == 0:
                seen = User.objects.get(pk=pk).failed_login_count
            elif reads % 3 == 1:
                seen = next(iter(User.objects.filter(pk=pk))).failed_login_count
            else:
                seen = User.objects.filter(pk=pk).values_list("failed_login_count")[0][0]
        except Exception:  # the check counts any error reaching the app
            errors += 1
            continue
        reads += 1
        if seen < floor:
            stale += 1
    snapshot = child_caches["default"].state.stats.snapshot()
    out.put(
        {
            "reads": reads,
            "stale": stale,
            "errors": errors,
            "hits": snapshot.get("l1.hits", 0) + snapshot.get("l2.hits", 0),
        }
    )


def _spin(done: Any) -> None:
    n = 0
    while not done.is_set():
        for i in range(10_000):
            n += i


def lease_holder(db_name: str, pk: int, location: str, options: dict[str, Any], conn: Any) -> None:
    """Hold an L1 lease and answer ``"read"`` with the row's value read through the ORM
    cache (and whether it came from L1), until told ``"stop"``."""
    from django.core.cache import caches as child_caches

    setup_child(db_name, options, location)
    from example_project.demo.models import User

    state = child_caches["default"].state
    state.wait_l1(30)
    conn.send(("ready", state.node.decode()))
    while (command := conn.recv()) != "stop":
        assert command == "read"
        before = state.stats.snapshot().get("l1.hits", 0)
        value = User.objects.get(pk=pk).failed_login_count
        conn.send((value, state.stats.snapshot().get("l1.hits", 0) > before))


def coherence_child(db_name: str, values: Any, acks: Any) -> None:
    """Set ``shared`` to each value received, acknowledging each write."""
    from django.core.cache import cache as child_cache

    setup_child(db_name)
    while (value := values.get(timeout=30)) is not None:
        child_cache.set("shared", value)
        acks.put(value)

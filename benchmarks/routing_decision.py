"""Replica router cost, measured side by side in one run on a real primary + standby.

1. Decision cost: ``router.db_for_read()`` through Django's ``ConnectionRouter`` with
   ``ReplicaRouter`` installed, against the same call with no router installed.
2. A request of 20 ``Model.objects.get(pk=...)`` reads in one routing scope: through the
   router (served by the standby) vs. no router (served by the primary), and vs. no router
   with ``.using("replica")`` (the same standby, so only the router's own cost differs).

Starts its own PostgreSQL primary + standby (tests.services) unless the DBOPT_TEST_*
variables name running ones, and stops them at the end. Run from the repository root:

    .venv/bin/python benchmarks/routing_decision.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
from django.conf import settings

from tests.services import start_services

DECISIONS = 100_000
ROUNDS = 100
READS = 20


def _db(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": parts.hostname,
        "PORT": str(parts.port),
        "USER": parts.username or "postgres",
        "NAME": "postgres",
        "CONN_MAX_AGE": None,
    }


def per_call_us(func: object, n: int) -> float:
    """Best of 5 runs of ``n`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            func()  # type: ignore[operator]
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def main() -> None:
    services = start_services()
    try:
        settings.configure(
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_dbopt"],
            DATABASES={"default": _db(services.primary_url), "replica": _db(services.replica_url)},
            DBOPT={"ROUTING": {"REPLICAS": {"default": {"replica": 1}}}},
            USE_TZ=True,
            SECRET_KEY="benchmark",
        )
        django.setup()
        run(services)
    finally:
        from django.db import connections

        for conn in connections.all(initialized_only=True):
            conn.close()
        services.stop()


def run(services: object) -> None:
    from django.db import connection, models, router

    from django_dbopt.routing import ReplicaRouter, routing_scope, status
    from django_dbopt.routing.health import monitor

    class Item(models.Model):
        name = models.CharField(max_length=50)

        class Meta:
            app_label = "django_dbopt"
            db_table = "bench_routing_item"

        def __str__(self) -> str:
            return self.name

    with connection.schema_editor() as editor:
        editor.execute("DROP TABLE IF EXISTS bench_routing_item")
        editor.create_model(Item)
    Item.objects.bulk_create(Item(pk=i, name=f"item {i}") for i in range(1, READS + 1))
    services.wait_for_replica()  # type: ignore[attr-defined]

    with_router, no_router = [ReplicaRouter()], []
    router.routers = with_router  # type: ignore[misc]
    monitor.ensure_started()
    monitor.probe_round()
    assert status().replicas[0].state == "healthy", status()

    def decide() -> str | None:
        return router.db_for_read(Item)

    # -- 1. decision cost --------------------------------------------------------------
    router.routers = no_router  # type: ignore[misc]
    baseline_us = per_call_us(decide, DECISIONS)
    router.routers = with_router  # type: ignore[misc]
    with routing_scope():
        assert decide() == "replica"
        scoped_us = per_call_us(decide, DECISIONS)
    unscoped_us = per_call_us(decide, DECISIONS)

    # -- 2. a request of 20 reads ------------------------------------------------------
    def request(using: str | None = None) -> None:
        with routing_scope():
            manager = Item.objects.using(using) if using else Item.objects
            for pk in range(1, READS + 1):
                manager.get(pk=pk)

    timings: dict[str, list[float]] = {"router": [], "none": [], "none-replica": []}
    variants = [
        ("router", with_router, None),
        ("none", no_router, None),
        ("none-replica", no_router, "replica"),
    ]
    for _name, routers, using in variants:  # warm connections and caches
        router.routers = routers  # type: ignore[misc]
        request(using)
    for _ in range(ROUNDS):
        for name, routers, using in variants:
            router.routers = routers  # type: ignore[misc]
            start = time.perf_counter()
            request(using)
            timings[name].append(time.perf_counter() - start)
    router.routers = with_router  # type: ignore[misc]
    served = status().replicas[0].reads
    monitor.stop()
    with connection.schema_editor() as editor:
        editor.execute("DROP TABLE IF EXISTS bench_routing_item")

    median = {k: statistics.median(v) * 1e3 for k, v in timings.items()}
    rows = [
        ("router decision, one routing scope (pinned replica)", f"{scoped_us:.2f} us/query"),
        ("router decision, no scope (weighted choice)", f"{unscoped_us:.2f} us/query"),
        ("Django with no router installed, same call", f"{baseline_us:.2f} us/query"),
        ("router cost per decision over Django's own", f"{scoped_us - baseline_us:.2f} us"),
        ("target <= 10 us per decision", "met" if scoped_us <= 10 else "NOT met"),
        (f"request of {READS} pk reads, median of {ROUNDS} interleaved rounds", ""),
        ("  through the router (standby)", f"{median['router']:.3f} ms"),
        ("  no router (primary)", f"{median['none']:.3f} ms"),
        ("  no router, .using('replica') (same standby)", f"{median['none-replica']:.3f} ms"),
        ("  ratio router / no router", f"{median['router'] / median['none']:.3f}x"),
        (
            "  ratio router / no router, same server",
            f"{median['router'] / median['none-replica']:.3f}x",
        ),
        ("reads the router sent to the standby (all phases)", str(served)),
    ]
    for label, value in rows:
        print(f"{label:<58} {value}")


if __name__ == "__main__":
    main()

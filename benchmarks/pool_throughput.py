"""Requests per second with the pool vs without, and the cost of checkout tracking.

    .venv/bin/python benchmarks/pool_throughput.py [--seconds 1.5] [--threads 4]

Starts the test services (tests.services.start_services) and stops them at the end.
One run, side by side, rounds interleaved so a busy machine hurts every mode alike:

1. a small view doing 3 queries, called through Django's WSGI handler (request signals
   and all, so Django closes or returns the connection after every request) from
   ``--threads`` threads, on aliases of the same database: ``CONN_MAX_AGE=0`` without a
   pool (the baseline), Django's own pool, and the django-dbopt engine's managed pool with
   ``RESET_SESSION`` ``"dirty"`` (the default: the view's plain SELECTs leave the session
   clean, so it is not reset), ``"always"`` (reset after every request) and off; and
   ``"dirty"`` once more with a view whose last query changes a setting
   (``set_config(..., false)``), so every request is reset: the worst case of the mode;
2. a checkout and its return (``ensure_connection()`` + ``close()``) on Django's pool vs
   the managed pool (session reset off so both return synchronously): the managed
   pool's whole added cost per checkout (tracking, breaker, no-round-trip liveness test);
3. checkout tracking alone (record + forget) called under a 15-frame stack of
   library frames, as on Django's connect path;
4. the ``"dirty"`` mode's execute wrapper alone, per query, on the view's SQL (memoized
   classification + the flag test), against a bare call of the same ``execute``.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES_PER_REQUEST = 3


def configure(primary_url: str) -> None:
    import django
    from django.conf import settings

    parts = urlsplit(primary_url)
    base = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "HOST": parts.hostname,
        "PORT": str(parts.port),
        "USER": parts.username or "postgres",
        "CONN_MAX_AGE": 0,
    }
    pool = {"min_size": 4, "max_size": 8}
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_dbopt"],
        DATABASES={
            "default": base,
            "nopool": base,
            "django_pool": {**base, "OPTIONS": {"pool": pool}},
            "managed": {
                **base,
                "ENGINE": "django_dbopt.pool.postgresql",
                "OPTIONS": {"pool": pool},
            },
            "managed_noreset": {
                **base,
                "ENGINE": "django_dbopt.pool.postgresql",
                "OPTIONS": {"pool": pool},
            },
            "managed_always": {
                **base,
                "ENGINE": "django_dbopt.pool.postgresql",
                "OPTIONS": {"pool": pool},
            },
            "managed_dirtied": {
                **base,
                "ENGINE": "django_dbopt.pool.postgresql",
                "OPTIONS": {"pool": pool},
            },
        },
        DBOPT={"POOL": {"LEAK_THRESHOLD_S": 60}},
        USE_TZ=True,
    )
    django.setup()


def view(request: Any, alias: str) -> Any:
    from django.db import connections
    from django.http import HttpResponse

    with connections[alias].cursor() as cursor:
        for n in range(QUERIES_PER_REQUEST - 1):
            cursor.execute("SELECT %s", [n])
            cursor.fetchone()
        if alias == "managed_dirtied":  # changes session state: a reset is due
            cursor.execute("SELECT set_config('application_name', %s, false)", ["bench"])
        else:
            cursor.execute("SELECT %s", [QUERIES_PER_REQUEST - 1])
        cursor.fetchone()
    return HttpResponse("ok")


def urlpatterns_() -> list[Any]:
    from django.urls import path

    return [path("<str:alias>/", view)]


def requests_per_second(alias: str, seconds: float, threads: int) -> float:
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    done = [0] * threads
    stop = time.monotonic() + seconds

    def client(slot: int) -> None:
        while time.monotonic() < stop:
            environ = {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": f"/{alias}/",
                "SERVER_NAME": "bench",
                "SERVER_PORT": "80",
                "wsgi.input": io.BytesIO(b""),
                "wsgi.url_scheme": "http",
            }
            response = handler(environ, lambda status, headers: None)
            b"".join(response)
            response.close()  # request_finished: Django closes / returns the connection
            if response.status_code != 200:
                raise RuntimeError(f"{alias}: HTTP {response.status_code}")
            done[slot] += 1

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.monotonic() - started)


def checkout_us(alias: str, n: int) -> float:
    from django.db import connections

    wrapper = connections[alias]
    started = time.perf_counter()
    for _ in range(n):
        wrapper.ensure_connection()
        wrapper.close()
    return (time.perf_counter() - started) / n * 1e6


def tracking_us(n: int) -> float:
    """``tracker.checkout`` + ``checkin`` under 15 frames that the call-site walk skips."""
    import django

    from django_dbopt.pool.tracking import CheckoutTracker

    tracker = CheckoutTracker("bench", 60)
    conn = object()
    source = (
        "def nest(depth, fn):\n"
        "    if depth:\n"
        "        return nest(depth - 1, fn)\n"
        "    return fn()\n"
    )
    scope: dict[str, Any] = {}
    exec(compile(source, os.path.join(os.path.dirname(django.__file__), "x.py"), "exec"), scope)

    def loop() -> float:
        started = time.perf_counter()
        for _ in range(n):
            tracker.checkout(conn)
            tracker.checkin(conn)
        return time.perf_counter() - started

    elapsed: float = scope["nest"](15, loop)
    return elapsed / n * 1e6


def dirty_check_us(n: int) -> tuple[float, float]:
    """Per query: the ``"dirty"`` mode's execute wrapper vs calling ``execute`` directly."""
    from django.db import connections

    from django_dbopt.pool.session import mark_dirty_on_execute

    context = {"connection": connections["managed"], "cursor": None}
    sql = "SELECT %s"

    def execute(sql: str, params: Any, many: bool, context: dict[str, Any]) -> None:
        return None

    started = time.perf_counter()
    for _ in range(n):
        execute(sql, None, False, context)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(n):
        mark_dirty_on_execute(execute, sql, None, False, context)
    wrapped = time.perf_counter() - started
    return bare / n * 1e6, wrapped / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="length of each rps round")
    parser.add_argument("--threads", type=int, default=4, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per mode")
    parser.add_argument("--checkouts", type=int, default=3000, help="checkouts per round")
    args = parser.parse_args()

    from tests.services import start_services

    services = start_services()
    try:
        configure(services.primary_url)
        global urlpatterns
        urlpatterns = urlpatterns_()
        from django.test.utils import override_settings

        # pools read RESET_SESSION when made ("managed" and "managed_dirtied": "dirty")
        with override_settings(DBOPT={"POOL": {"RESET_SESSION": False}}):
            checkout_us("managed_noreset", 1)
        with override_settings(DBOPT={"POOL": {"RESET_SESSION": "always"}}):
            checkout_us("managed_always", 1)
        modes = (
            "nopool",
            "django_pool",
            "managed",
            "managed_always",
            "managed_noreset",
            "managed_dirtied",
        )
        for mode in modes:  # warm up: open pools, import everything
            requests_per_second(mode, 0.2, args.threads)
        rps: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(args.rounds):
            for mode in modes:
                rps[mode].append(requests_per_second(mode, args.seconds, args.threads))
        cost: dict[str, list[float]] = {"django_pool": [], "managed_noreset": []}
        for mode in cost:
            checkout_us(mode, 200)
        for _ in range(args.rounds):
            for mode in cost:
                cost[mode].append(checkout_us(mode, args.checkouts))
        tracking = [tracking_us(20000) for _ in range(args.rounds)]
        dirty_check = [dirty_check_us(200000) for _ in range(args.rounds)]
        resets = {}
        from django_dbopt.pool.stats import pool_stats

        for label, mode in (
            ("dirty", "managed"),
            ("always", "managed_always"),
            ("dirty + setting", "managed_dirtied"),
        ):
            stats = pool_stats(mode) or {"counters": {}}
            resets[label] = (
                stats["counters"].get("resets", 0),
                stats["counters"].get("checkouts", 0),
            )
    finally:
        from django.db import connections

        for conn in connections.all(initialized_only=True):
            conn.close()
            if conn.vendor == "postgresql" and conn.pool is not None:
                conn.close_pool()
        services.stop()

    med = {m: statistics.median(v) for m, v in rps.items()}
    print(
        f"view with {QUERIES_PER_REQUEST} queries, {args.threads} threads, "
        f"{args.rounds} x {args.seconds:g} s rounds (median requests/s)"
    )
    print(f"  no pool (CONN_MAX_AGE=0) {med['nopool']:9.0f} req/s   1.00x")
    print(
        f"  Django's pool            {med['django_pool']:9.0f} req/s   "
        f"{med['django_pool'] / med['nopool']:.2f}x"
    )
    rows = (
        ("django-dbopt, reset dirty", "managed", "(default; view leaves session clean)"),
        ("django-dbopt, reset always", "managed_always", ""),
        ("django-dbopt, reset off", "managed_noreset", ""),
        ("dirty, view sets a setting", "managed_dirtied", "(every request reset)"),
    )
    for label, mode, note in rows:
        print(
            f"  {label:<26}{med[mode]:8.0f} req/s   {med[mode] / med['nopool']:.2f}x  "
            f"({med[mode] / med['django_pool']:.2f}x Django's pool"
            f", {med[mode] / med['managed_always']:.2f}x always) {note}".rstrip()
        )
    print(
        "  resets / checkouts: "
        + ", ".join(f"{label} {done}/{total}" for label, (done, total) in resets.items())
    )
    plain, managed = (
        statistics.median(cost["django_pool"]),
        statistics.median(cost["managed_noreset"]),
    )
    print("checkout + return through Django (median per checkout)")
    print(f"  Django's pool            {plain:7.2f} us")
    print(
        f"  django-dbopt pool        {managed:7.2f} us   ({managed - plain:+.2f} us: tracking, "
        "breaker, liveness poll; reset off)"
    )
    print(
        f"checkout tracking alone    {statistics.median(tracking):7.2f} us per checkout "
        "(target <= 5)"
    )
    bare = statistics.median(b for b, _ in dirty_check)
    wrapped = statistics.median(w for _, w in dirty_check)
    print(
        f"dirty-statement wrapper    {wrapped - bare:7.2f} us per query "
        f"({wrapped:.2f} us wrapped vs {bare:.2f} us bare call)"
    )


urlpatterns: list[Any] = []

if __name__ == "__main__":
    main()

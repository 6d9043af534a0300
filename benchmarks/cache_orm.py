"""ORM cache benchmark: django-dbopt's two-tier cache against no cache and django-cachalot.

Starts its own PostgreSQL + Redis on loopback (``tests.services.start_services()``),
seeds 1000 owners x 10 projects, and times, per call (median of many calls, µs):

- ``Project.objects.get(pk=...)`` and a 10-row filtered list (``filter(owner=...)``):
  uncached (plain Django, hook removed); django-dbopt L1 hit (strict: generations checked
  in Redis, the default; and pub/sub-trusting, ``ORM_STRICT=False``); L2 hit (L1 off);
  the miss path (first read of each row); django-cachalot on locmem and on Redis (each in
  a subprocess, since cachalot patches the same compiler method);
- a ``@cached`` function's L1 hit;
- invalidation seen by another process's L1 (p50/p99);
- with Redis stopped and the breaker open: time added per cache call and per ORM read.

Every ratio is computed from figures measured in this one run. Needs the ``bench`` extra
(django-cachalot). Run: ``.venv/bin/python benchmarks/cache_orm.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N = 3000  # timed calls per hit scenario
MISSES = 960  # distinct rows for the miss path and its uncached twin
DB = "dbopt_bench"


def configure(primary_url: str, redis_url: str, *, cachalot: str | None = None) -> None:
    from urllib.parse import urlsplit

    import django
    from django.conf import settings

    from tests import settings_base

    values = {k: getattr(settings_base, k) for k in dir(settings_base) if k.isupper()}
    parts = urlsplit(primary_url)
    values["DATABASES"] = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": parts.hostname,
            "PORT": str(parts.port),
            "USER": parts.username or "postgres",
            "NAME": DB,
        }
    }
    redis_alias = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": redis_url,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    }
    if cachalot:
        apps = [a for a in values["INSTALLED_APPS"] if a != "django_dbopt"]
        values["INSTALLED_APPS"] = [*apps, "cachalot"]
        values["CACHES"] = {
            "default": redis_alias
            if cachalot == "redis"
            else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        }
    else:
        values["CACHES"] = {
            "default": {
                "BACKEND": "django_dbopt.cache.TwoTierCache",
                "LOCATION": "bench",
                "OPTIONS": {"L2": "redis"},
            },
            "l2only": {
                "BACKEND": "django_dbopt.cache.TwoTierCache",
                "LOCATION": "bench-l2",
                "OPTIONS": {"L2": "redis", "L1_MAX_BYTES": 0},
            },
            "redis": redis_alias,
        }
    settings.configure(**values)
    django.setup()


def per_call_us(fn: Callable[[Any], Any], args: list[Any], warmup: bool = True) -> float:
    """Median wall time of ``fn(arg)`` over ``args``, in microseconds."""
    if warmup:
        for arg in args[:200]:
            fn(arg)
    samples = []
    clock = time.perf_counter_ns
    for arg in args:
        start = clock()
        fn(arg)
        samples.append(clock() - start)
    return statistics.median(samples) / 1000


ROUNDS = 24


def interleaved(
    scenarios: dict[str, tuple[Callable[[], Any] | None, Callable[[Any], Any], list[Any]]],
    warm: bool = True,
) -> dict[str, float]:
    """Median µs per call of each scenario, run in alternating rounds so that a busy
    moment on a shared machine hits every scenario alike. A scenario is (context factory
    or None, function, arguments); with ``warm``, each round starts with one untimed call
    (so hit scenarios time hits only), except for scenarios whose name says "miss" or
    "distinct"."""
    samples: dict[str, list[int]] = {name: [] for name in scenarios}
    clock = time.perf_counter_ns
    for round_ in range(ROUNDS):
        for name, (context, fn, args) in scenarios.items():
            size = len(args) // ROUNDS
            chunk = args[round_ * size : (round_ + 1) * size]
            with context() if context else contextlib.nullcontext():
                if warm and "miss" not in name and "distinct" not in name:
                    fn(chunk[0])
                    fn(chunk[0])
                out = samples[name]
                for arg in chunk:
                    start = clock()
                    fn(arg)
                    out.append(clock() - start)
    return {name: statistics.median(v) / 1000 for name, v in samples.items()}


def seed() -> tuple[list[int], list[int]]:
    from django.core.management import call_command

    from example_project.demo.models import Project, User

    call_command("migrate", verbosity=0)
    owners = User.objects.bulk_create(
        [User(email=f"owner{i}@example.com", password="x") for i in range(1000)]
    )
    Project.objects.bulk_create(
        [Project(name=f"p{o.pk}-{j}", owner=o) for o in owners for j in range(10)]
    )
    pks = list(Project.objects.order_by("pk").values_list("pk", flat=True))
    return pks, [o.pk for o in owners]


def queries() -> dict[str, Callable[[int], Any]]:
    from example_project.demo.models import Project

    return {
        "get(pk)": lambda pk: Project.objects.get(pk=pk),
        "10-row list": lambda owner: list(Project.objects.filter(owner_id=owner).order_by("id")),
    }


# -- django-cachalot, in a subprocess -------------------------------------------------
def cachalot_child(primary_url: str, redis_url: str, backend: str) -> None:
    configure(primary_url, redis_url, cachalot=backend)
    from cachalot.api import cachalot_disabled
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from example_project.demo.models import Project, User

    pk = Project.objects.order_by("pk").values_list("pk", flat=True).first()
    owner = User.objects.order_by("pk").values_list("pk", flat=True).first()
    out: dict[str, dict[str, float]] = {}
    for name, fn in queries().items():
        arg = pk if name == "get(pk)" else owner
        fn(arg)
        with CaptureQueriesContext(connection) as ctx:
            fn(arg)
        assert not ctx.captured_queries, f"cachalot did not cache {name}"
        samples = interleaved(
            {"uncached": (cachalot_disabled, fn, [arg] * N), "cached": (None, fn, [arg] * N)}
        )
        out[name] = samples
    print(json.dumps(out))


def run_cachalot(primary_url: str, redis_url: str, backend: str) -> dict[str, Any] | None:
    try:
        import cachalot  # noqa: F401
    except ImportError:
        return None
    proc = subprocess.run(
        [sys.executable, __file__, "--cachalot", backend, primary_url, redis_url],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        print(f"django-cachalot ({backend}) failed:\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- invalidation latency, in a second process ----------------------------------------
def listener_child(primary_url: str, redis_url: str, ready: Any, stamps: Any) -> None:
    configure(primary_url, redis_url)
    from django.core.cache import cache

    st = cache.state  # type: ignore[attr-defined]
    original = st._on_message

    def timed(data: bytes) -> None:
        original(data)
        stamps.put(time.perf_counter_ns())

    st._on_message = timed
    st.stop_listener()
    st.wait_l1()
    ready.set()
    time.sleep(120)


def invalidation_latency(primary_url: str, redis_url: str) -> list[float]:
    from django.core.cache import cache

    ctx = multiprocessing.get_context("spawn")
    ready, stamps = ctx.Event(), ctx.Queue()
    child = ctx.Process(target=listener_child, args=(primary_url, redis_url, ready, stamps))
    child.start()
    try:
        ready.wait(60)
        latencies = []
        for i in range(300):
            start = time.perf_counter_ns()  # CLOCK_MONOTONIC: comparable across processes
            cache.set("probe", i)
            latencies.append((stamps.get(timeout=10) - start) / 1e6)
            time.sleep(0.002)
        return latencies
    finally:
        child.kill()
        child.join()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    from tests.services import start_services

    services = start_services()
    try:
        with services.connect("primary") as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB}")
            conn.execute(f"CREATE DATABASE {DB}")
        configure(services.primary_url, services.redis_url)
        bench(services)
    finally:
        services.stop()


def bench(services: Any) -> None:
    from django.core.cache import cache, caches
    from django.db import connection
    from django.test.utils import override_settings

    from django_dbopt.cache import cached, generations, orm

    pks, owners = seed()
    st = caches["default"].state  # type: ignore[attr-defined]
    st.wait_l1()
    with override_settings(DBOPT={"CACHE": {"ORM_MODELS": ["demo.Project"]}}):
        queries()["get(pk)"](pks[0])  # starts the restart quarantine of a fresh Redis
    time.sleep(st.config.restart_quarantine_s)
    opted = {"CACHE": {"ORM_MODELS": ["demo.Project"]}}

    @contextlib.contextmanager
    def plain_django() -> Any:
        orm.uninstall()
        wrappers = list(connection.execute_wrappers)
        connection.execute_wrappers.clear()
        try:
            yield
        finally:
            connection.execute_wrappers.extend(wrappers)
            orm.install()

    def dbopt(**cache: Any) -> Callable[[], Any]:
        return lambda: override_settings(DBOPT={"CACHE": {**opted["CACHE"], **cache}})

    @contextlib.contextmanager
    def l1_off() -> Any:
        size = st.l1.max_bytes
        st.l1.max_bytes = 0
        try:
            with override_settings(DBOPT=opted):
                yield
        finally:
            st.l1.max_bytes = size

    client = st.tier.client
    client.set("rtt-probe", b"x")
    gen_keys = generations.gen_keys(st, tables=["projects"])
    results: dict[str, dict[str, float]] = {}
    for name, fn in queries().items():
        rows = pks if name == "get(pk)" else owners
        hot = [rows[0]] * N
        results[name] = interleaved(
            {
                "uncached": (plain_django, fn, hot),
                "dbopt L1 hit (strict)": (dbopt(), fn, hot),
                "dbopt L1 hit (ORM_STRICT=False)": (dbopt(ORM_STRICT=False), fn, hot),
                "dbopt L2 hit (L1 off)": (l1_off, fn, hot),
                "uncached, distinct rows": (plain_django, fn, rows[1 : MISSES // 2 + 1]),
                "dbopt miss path": (dbopt(), fn, rows[-MISSES // 2 :]),
                "Redis round trip: GET": (None, client.get, ["rtt-probe"] * (N // 2)),
                "Redis round trip: generation fetch": (
                    None,
                    lambda p: generations.fetch(st, gen_keys, p),
                    ["probe:"] * (N // 2),
                ),
            }
        )
        st.outbox.flush()

    cachalot = {
        b: run_cachalot(services.primary_url, services.redis_url, b) for b in ("locmem", "redis")
    }

    with override_settings(DBOPT={"CACHE": {"TRACK_MODELS": ["demo.Project"]}}):

        @cached(300, tags=["bench"])
        def answer(x: int) -> dict[str, int]:
            return {"answer": x}

        answer(1)
        decorator_us = per_call_us(answer, [1] * 20000)

    latencies = invalidation_latency(services.primary_url, services.redis_url)

    # Redis stopped: the breaker opens after a few failures; time what each call adds.
    fn = queries()["get(pk)"]
    services.stop_redis()
    try:
        with override_settings(DBOPT=opted):
            for _ in range(5):
                cache.get("k")
            assert st.tier.breaker.state == "open", st.tier.breaker.state
        down = interleaved(
            {
                "uncached": (plain_django, fn, [pks[0]] * 1200),
                "dbopt, Redis down": (dbopt(), fn, [pks[0]] * 1200),
                "cache.get, Redis down": (None, cache.get, ["k"] * 6000),
                "empty call": (None, lambda k: None, ["k"] * 6000),
            }
        )
    finally:
        services.start_redis()
    down_base, down_orm = down["uncached"], down["dbopt, Redis down"]
    down_cache_get, plain_get = down["cache.get, Redis down"], down["empty call"]

    print_report(
        results, cachalot, decorator_us, latencies, down_base, down_orm, down_cache_get, plain_get
    )


def print_report(
    results: dict[str, dict[str, float]],
    cachalot: dict[str, Any],
    decorator_us: float,
    latencies: list[float],
    down_base: float,
    down_orm: float,
    down_cache_get: float,
    plain_call: float,
) -> None:
    print("django-dbopt cache benchmark: PostgreSQL + Redis on loopback, median µs per call")
    for name, r in results.items():
        base = r["uncached"]
        base_cold = r["uncached, distinct rows"]
        print(f"\n{name}")
        for label, value in r.items():
            if label.startswith("Redis"):
                print(f"  {label:<36} {value:9.1f} µs   (a strict hit and a miss make one)")
                continue
            ref = base_cold if "distinct" in label or "miss" in label else base
            print(f"  {label:<36} {value:9.1f} µs   {value / ref:5.2f}x uncached")
        for backend in ("locmem", "redis"):
            c = cachalot.get(backend)
            if c is None:
                print(f"  django-cachalot on {backend:<17}   no data (not installed or failed)")
                continue
            cc = c[name]
            print(
                f"  django-cachalot on {backend:<17} {cc['cached']:9.1f} µs   "
                f"{cc['cached'] / cc['uncached']:5.2f}x its uncached ({cc['uncached']:.1f} µs)"
            )
        loc, red = cachalot.get("locmem"), cachalot.get("redis")
        l1 = r["dbopt L1 hit (strict)"]
        l1f = r["dbopt L1 hit (ORM_STRICT=False)"]
        l2 = r["dbopt L2 hit (L1 off)"]
        print(
            "  targets (cachalot: direct ratio; in brackets, each normalized by its own uncached)"
        )

        def target(label: str, strict: float, pubsub: float | None, goal: str) -> None:
            both = f"strict {strict:5.2f}x" + (f", pub/sub {pubsub:5.2f}x" if pubsub else "")
            print(f"    {label:<34} {both:<34} ({goal})")

        target("L1 hit / uncached", l1 / base, l1f / base, "<= 0.25x")
        if loc:
            lc, lu = loc[name]["cached"], loc[name]["uncached"]
            target("L1 hit / cachalot locmem", l1 / lc, l1f / lc, "<= 0.75x")
            target("  [normalized]", (l1 / base) / (lc / lu), (l1f / base) / (lc / lu), "")
        target("L2 hit / uncached", l2 / base, None, "<= 0.6x")
        if red:
            rc, ru = red[name]["cached"], red[name]["uncached"]
            target("L2 hit / cachalot redis", l2 / rc, None, "<= 0.7x")
            target("  [normalized]", (l2 / base) / (rc / ru), None, "")
        target(
            "miss path / uncached (fresh rows)", r["dbopt miss path"] / base_cold, None, "<= 1.15x"
        )
    print(f"\n@cached function, L1 hit: {decorator_us:.2f} µs per call   (<= 10 µs)")
    print(
        f"invalidation seen by another process's L1: p50 {pct(latencies, 0.5):.2f} ms, "
        f"p99 {pct(latencies, 0.99):.2f} ms, max {max(latencies):.2f} ms over {len(latencies)}"
        "   (p99 <= 10 ms)"
    )
    print(
        f"Redis stopped, breaker open: cache.get {down_cache_get:.2f} µs per call "
        f"(an empty call costs {plain_call:.2f} µs); ORM get(pk) {down_orm:.1f} µs vs "
        f"{down_base:.1f} µs uncached: {down_orm - down_base:+.1f} µs added   (<= 2000 µs)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cachalot", choices=["locmem", "redis"], help="internal: cachalot child")
    parser.add_argument("urls", nargs="*", help="internal: primary and Redis URLs")
    options = parser.parse_args()
    if options.cachalot:
        cachalot_child(options.urls[0], options.urls[1], options.cachalot)
    else:
        main()

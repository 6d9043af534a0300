"""ORM cache benchmark: django-dbopt's two-tier cache against no cache and django-cachalot.

Starts its own PostgreSQL + Redis on loopback (``tests.services.start_services()``),
seeds 1000 owners x 10 projects, and times, per call (median of many calls, µs):

- ``Project.objects.get(pk=...)`` and a 10-row filtered list (``filter(owner=...)``):
  uncached (plain Django, hook removed); django-dbopt L1 hit (the default: under a lease,
  no network call) and, for comparison, with ``ACK_INVALIDATIONS`` off (each hit checks
  the generations in Redis); L2 hit (L1 off); the miss path (first read of each row; L2
  lookups skipped while they do not pay) and the miss path with the L2 lookup forced
  (what a miss costs when L2 lookups pay); django-cachalot on locmem and on Redis (each in
  a subprocess, since cachalot patches the same compiler method);
- what acknowledged invalidations cost a writer: an ``update()`` with no cache, with
  django-dbopt alone, with another process holding an L1 lease, and with acks off;
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
MISSES = 300  # distinct rows for each miss-path scenario and the uncached twin
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
            "noack": {
                "BACKEND": "django_dbopt.cache.TwoTierCache",
                "LOCATION": "bench-noack",
                "OPTIONS": {"L2": "redis", "ACK_INVALIDATIONS": False},
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

    def timed(data: bytes) -> bytes | None:
        ack = original(data)
        stamps.put(time.perf_counter_ns())
        return ack  # type: ignore[no-any-return]

    st._on_message = timed
    st.stop_listener()
    st.wait_l1()
    ready.set()
    time.sleep(120)


@contextlib.contextmanager
def other_process(primary_url: str, redis_url: str) -> Any:
    """Another process holding an L1 lease on the default cache; yields its stamp queue
    (when it applied each invalidation, CLOCK_MONOTONIC ns)."""
    ctx = multiprocessing.get_context("spawn")
    ready, stamps = ctx.Event(), ctx.Queue()
    child = ctx.Process(target=listener_child, args=(primary_url, redis_url, ready, stamps))
    child.start()
    try:
        assert ready.wait(60), "the other process did not start"
        yield stamps
    finally:
        child.kill()
        child.join()


def invalidation_latency(stamps: Any) -> tuple[list[float], list[float]]:
    """(ms until the other process applied each ``cache.set``, ms each set took)."""
    from django.core.cache import cache

    while not stamps.empty():
        stamps.get()
    latencies, writes = [], []
    for i in range(300):
        start = time.perf_counter_ns()  # CLOCK_MONOTONIC: comparable across processes
        cache.set("probe", i)
        writes.append((time.perf_counter_ns() - start) / 1e6)
        latencies.append((stamps.get(timeout=10) - start) / 1e6)
        time.sleep(0.002)
    return latencies, writes


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

    from django_dbopt.cache import cached, patches
    from django_dbopt.cache.lookups import Lookups
    from example_project.demo.models import Project

    pks, owners = seed()
    st = caches["default"].state  # type: ignore[attr-defined]
    noack = caches["noack"].state  # type: ignore[attr-defined]
    opted = {"CACHE": {"ORM_MODELS": ["demo.Project"]}}
    with override_settings(DBOPT=opted):
        queries()["get(pk)"](pks[0])  # starts the restart quarantine of a fresh Redis
    time.sleep(st.config.restart_quarantine_s)
    assert st.wait_l1(10), "no L1 lease"
    assert noack.wait_l1(10), "no L1 lease"

    @contextlib.contextmanager
    def plain_django() -> Any:
        patches.uninstall()
        wrappers = list(connection.execute_wrappers)
        connection.execute_wrappers.clear()
        try:
            yield
        finally:
            connection.execute_wrappers.extend(wrappers)
            patches.install()

    def dbopt(**cache_: Any) -> Callable[[], Any]:
        return lambda: override_settings(DBOPT={"CACHE": {**opted["CACHE"], **cache_}})

    @contextlib.contextmanager
    def l1_off() -> Any:
        size = st.l1.max_bytes
        st.l1.max_bytes = 0
        try:
            with override_settings(DBOPT=opted):
                yield
        finally:
            st.l1.max_bytes = size

    @contextlib.contextmanager
    def lookups_forced() -> Any:
        original = Lookups.decide
        Lookups.decide = lambda self: "look"  # type: ignore[method-assign]
        try:
            with override_settings(DBOPT=opted):
                yield
        finally:
            Lookups.decide = original  # type: ignore[method-assign]

    client = st.tier.client
    client.set("rtt-probe", b"x")
    results: dict[str, dict[str, float]] = {}
    for name, fn in queries().items():
        rows = pks if name == "get(pk)" else owners
        hot = [rows[0]] * N
        results[name] = interleaved(
            {
                "uncached": (plain_django, fn, hot),
                "dbopt L1 hit": (dbopt(), fn, hot),
                "dbopt L1 hit, acks off (checks Redis)": (dbopt(CACHE="noack"), fn, hot),
                "dbopt L2 hit (L1 off)": (l1_off, fn, hot),
                "uncached, distinct rows": (plain_django, fn, rows[1 : MISSES + 1]),
                "dbopt miss path": (dbopt(), fn, rows[-MISSES:]),
                "dbopt miss path, L2 lookup forced": (
                    lookups_forced,
                    fn,
                    rows[MISSES + 1 : 2 * MISSES + 1],
                ),
                "Redis round trip: GET": (None, client.get, ["rtt-probe"] * (N // 2)),
            }
        )
        st.outbox.flush()
    skipped = st.stats.snapshot().get("l2.skipped", 0)

    cachalot = {
        b: run_cachalot(services.primary_url, services.redis_url, b) for b in ("locmem", "redis")
    }

    with override_settings(DBOPT={"CACHE": {"TRACK_MODELS": ["demo.Project"]}}):

        @cached(300, tags=["bench"])
        def answer(x: int) -> dict[str, int]:
            return {"answer": x}

        answer(1)
        decorator_us = per_call_us(answer, [1] * 20000)

    # What acknowledged invalidations cost a writer: update() in autocommit.
    target = pks[len(pks) // 2]
    n = 0

    def update(_: Any) -> None:
        nonlocal n
        n += 1
        Project.objects.filter(pk=target).update(name=f"w{n}")

    writes_plan = {
        "update, no cache": (plain_django, update, [0] * 600),
        "update, dbopt": (dbopt(), update, [0] * 600),
        "update, dbopt, acks off": (dbopt(CACHE="noack"), update, [0] * 600),
    }
    writes_alone = interleaved(writes_plan, warm=False)
    with other_process(services.primary_url, services.redis_url) as stamps:
        writes_other = interleaved(writes_plan, warm=False)
        latencies, set_ms = invalidation_latency(stamps)

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

    print_report(results, cachalot, skipped)
    print(f"\n@cached function, L1 hit: {decorator_us:.2f} µs per call   (<= 10 µs)")
    print_writes(writes_alone, writes_other)
    print(
        f"invalidation seen by another process's L1: p50 {pct(latencies, 0.5):.2f} ms, "
        f"p99 {pct(latencies, 0.99):.2f} ms, max {max(latencies):.2f} ms over {len(latencies)}"
        "   (p99 <= 10 ms)"
    )
    print(
        f"  (cache.set returned after the other process applied it: p50 "
        f"{pct(set_ms, 0.5):.2f} ms, p99 {pct(set_ms, 0.99):.2f} ms)"
    )
    down_base, down_orm = down["uncached"], down["dbopt, Redis down"]
    print(
        f"Redis stopped, breaker open: cache.get {down['cache.get, Redis down']:.2f} µs per "
        f"call (an empty call costs {down['empty call']:.2f} µs); ORM get(pk) "
        f"{down_orm:.1f} µs vs {down_base:.1f} µs uncached: {down_orm - down_base:+.1f} µs "
        "added   (<= 2000 µs)"
    )


def print_report(
    results: dict[str, dict[str, float]], cachalot: dict[str, Any], skipped: int
) -> None:
    print("django-dbopt cache benchmark: PostgreSQL + Redis on loopback, median µs per call")
    for name, r in results.items():
        base = r["uncached"]
        base_cold = r["uncached, distinct rows"]
        print(f"\n{name}")
        for label, value in r.items():
            if label.startswith("Redis"):
                print(f"  {label:<40} {value:9.1f} µs")
                continue
            ref = base_cold if "distinct" in label or "miss" in label else base
            print(f"  {label:<40} {value:9.1f} µs   {value / ref:5.2f}x uncached")
        for backend in ("locmem", "redis"):
            c = cachalot.get(backend)
            if c is None:
                print(f"  django-cachalot on {backend:<21}   no data (not installed or failed)")
                continue
            cc = c[name]
            print(
                f"  django-cachalot on {backend:<21} {cc['cached']:9.1f} µs   "
                f"{cc['cached'] / cc['uncached']:5.2f}x its uncached ({cc['uncached']:.1f} µs)"
            )
        loc, red = cachalot.get("locmem"), cachalot.get("redis")
        l1, l2 = r["dbopt L1 hit"], r["dbopt L2 hit (L1 off)"]
        print(
            "  targets (cachalot: direct ratio; in brackets, each normalized by its own uncached)"
        )

        def target(label: str, ratio: float, goal: str) -> None:
            print(f"    {label:<40} {ratio:5.2f}x   ({goal})")

        target("L1 hit / uncached", l1 / base, "<= 0.25x; stretch <= 0.10x")
        if loc:
            lc, lu = loc[name]["cached"], loc[name]["uncached"]
            target("L1 hit / cachalot locmem", l1 / lc, "<= 0.75x")
            target("  [normalized]", (l1 / base) / (lc / lu), "")
        target("L2 hit / uncached", l2 / base, "<= 0.6x")
        if red:
            rc, ru = red[name]["cached"], red[name]["uncached"]
            target("L2 hit / cachalot redis", l2 / rc, "<= 0.7x")
            target("  [normalized]", (l2 / base) / (rc / ru), "")
        target("miss path / uncached (fresh rows)", r["dbopt miss path"] / base_cold, "<= 1.15x")
        target(
            "  L2 lookup forced / uncached",
            r["dbopt miss path, L2 lookup forced"] / base_cold,
            "what a miss costs where L2 lookups pay",
        )
    print(f"\nL2 lookups skipped on misses (they did not pay): {skipped}")


def print_writes(alone: dict[str, float], other: dict[str, float]) -> None:
    print("update() of one row in autocommit, median µs (acknowledged invalidation):")
    for title, r in (("no other process", alone), ("another process holds an L1 lease", other)):
        base = r["update, no cache"]
        print(f"  {title}:")
        for label, value in r.items():
            print(f"    {label:<28} {value:9.1f} µs   {value / base:5.2f}x no cache")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cachalot", choices=["locmem", "redis"], help="internal: cachalot child")
    parser.add_argument("urls", nargs="*", help="internal: primary and Redis URLs")
    options = parser.parse_args()
    if options.cachalot:
        cachalot_child(options.urls[0], options.urls[1], options.cachalot)
    else:
        main()

"""What the query monitor costs a request, side by side with bare Django and its peers.

    .venv/bin/python benchmarks/monitor_overhead.py [--requests 150] [--rounds 5]

One request runs 20 primary-key queries (``User.objects.get(pk=...)``) on PostgreSQL.
Each variant runs in its own long-lived worker process (so one tool's global patches do
not leak into another's numbers), all against the same database, and the rounds are
interleaved (variant order rotated per round) so a noisy neighbour hits all variants
alike. Variants: bare Django; the monitor on its production defaults (middleware +
capture + background flusher); nplusone; django-debug-toolbar (toolbar forced on, SQL
panel active); django-silk. A peer that is not installed is reported as such (they are
in the ``bench`` extra). Printed: per-request wall time (median and best over rounds of
each round's mean) with its ratio to bare, the paired ratio (median over rounds of
variant / bare in the same round, which cancels slow drift of the machine's load), the
CPU time of each worker per request (all threads, and the request thread alone, which
leaves out the monitor's flush thread), the monitor's added microseconds per query (from
the request times, and measured directly around a no-op ``execute``), and the memory
held by the monitor's aggregates after 10,000 distinct fingerprints. With
``--instructions N`` it also counts the instructions of N requests of bare and monitor
under callgrind, the one figure that load on the machine does not move.

"monitor" is the whole app with ``DBOPT={}``: the monitor on, the other parts unconfigured
(their cost when not in use is part of the figure).

Servers: the suite's ``DBOPT_TEST_*`` URLs when set, else it starts its own PostgreSQL
(and Redis) with ``tests.services.start_services()`` and stops them at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DBNAME = "dbopt_bench"
QUERIES_PER_REQUEST = 20
VARIANTS = ["bare", "monitor", "nplusone", "debug-toolbar", "silk"]
NEEDS = {"nplusone": "nplusone", "debug-toolbar": "debug_toolbar", "silk": "silk"}


# --- the worker side ---------------------------------------------------------------------
def configure(variant: str, primary_url: str) -> None:
    import django
    from django.conf import settings

    parts = urlsplit(primary_url)
    apps = [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
        "example_project.demo",
    ]
    middleware: list[str] = ["django.middleware.common.CommonMiddleware"]
    extra: dict[str, Any] = {}
    if variant in ("monitor", "setup"):
        apps.append("django_dbopt")
    if variant == "monitor":
        middleware.insert(0, "django_dbopt.middleware.QueryMonitorMiddleware")
    if variant in ("nplusone", "setup") and importlib.util.find_spec("nplusone"):
        apps.append("nplusone.ext.django")
    if variant == "nplusone":
        middleware.insert(0, "nplusone.ext.django.NPlusOneMiddleware")
        extra["NPLUSONE_RAISE"] = False
    if variant in ("debug-toolbar", "setup") and importlib.util.find_spec("debug_toolbar"):
        apps.append("debug_toolbar")
    if variant == "debug-toolbar":
        middleware.insert(0, "debug_toolbar.middleware.DebugToolbarMiddleware")
        extra["DEBUG_TOOLBAR_CONFIG"] = {"SHOW_TOOLBAR_CALLBACK": lambda request: True}
        extra["SILENCED_SYSTEM_CHECKS"] = ["debug_toolbar.W001"]
    if variant in ("silk", "setup") and importlib.util.find_spec("silk"):
        apps.append("silk")
    if variant == "silk":
        middleware.insert(0, "silk.middleware.SilkyMiddleware")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-not-secret",
        ALLOWED_HOSTS=["testserver"],
        INTERNAL_IPS=["127.0.0.1"],
        INSTALLED_APPS=apps,
        MIDDLEWARE=middleware,
        ROOT_URLCONF="__main__",
        AUTH_USER_MODEL="demo.User",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        STATIC_URL="/static/",
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": DBNAME,
                "HOST": parts.hostname,
                "PORT": str(parts.port or 5432),
                "USER": parts.username or "postgres",
                "PASSWORD": parts.password or "",
                "CONN_MAX_AGE": None,  # one persistent connection, as in production
            }
        },
        DBOPT={},  # the monitor's production defaults
        # the request below repeats one query shape 20 times from one line: the monitor
        # samples its call sites and confirms the repetition every request; it *reports* an
        # N+1 only past NPLUSONE_MIN_TOTAL_MS (50 ms by default), which 20 fast pk reads do
        # not reach (the report counts how many requests were reported); logs go nowhere
        LOGGING={
            "version": 1,
            "handlers": {"null": {"class": "logging.NullHandler"}},
            "loggers": {"django_dbopt": {"handlers": ["null"], "propagate": False}},
        },
        **extra,
    )
    django.setup()


def twenty_pk_queries(request: Any) -> Any:
    from django.http import HttpResponse

    from example_project.demo.models import User

    emails = [User.objects.get(pk=pk).email for pk in USER_IDS]
    return HttpResponse(f"<html><body>{len(emails)}</body></html>")


USER_IDS: list[int] = []
urlpatterns: list[Any] = []


def worker(variant: str, primary_url: str, instructions: int = 0) -> None:
    configure(variant, primary_url)
    from django.db import connection
    from django.test import Client
    from django.urls import include, path

    urlpatterns.append(path("twenty/", twenty_pk_queries))
    if variant == "debug-toolbar":
        urlpatterns.append(path("__debug__/", include("debug_toolbar.urls")))
    if variant == "setup":
        setup()
        print(json.dumps({"ok": True}), flush=True)
        return
    from example_project.demo.models import User

    USER_IDS.extend(User.objects.order_by("pk").values_list("pk", flat=True)[:QUERIES_PER_REQUEST])
    reports = [0]
    if variant == "monitor":
        from django_dbopt.signals import nplusone_detected

        def count_report(**kwargs: Any) -> None:
            reports[0] += 1

        nplusone_detected.connect(count_report, weak=False)
    client = Client()
    for _ in range(20):  # warm-up: connection, caches, lazy imports
        assert client.get("/twenty/").status_code == 200
    if instructions:
        count_instructions(client, instructions)
        connection.close()
        return
    print(json.dumps({"ready": variant, "hooks": dbopt_hooks()}), flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "run":
            started, cpu_started = time.perf_counter_ns(), time.process_time_ns()
            thread_started, reports_before = time.thread_time_ns(), reports[0]
            for _ in range(int(arg)):
                client.get("/twenty/")
            elapsed = time.perf_counter_ns() - started
            # the request thread alone (the requests run on this thread): no flusher
            thread = time.thread_time_ns() - thread_started
            cpu = time.process_time_ns() - cpu_started  # all threads: includes the flusher
            print(
                json.dumps(
                    {
                        "us_per_request": elapsed / int(arg) / 1000,
                        "cpu_us_per_request": cpu / int(arg) / 1000,
                        "thread_us_per_request": thread / int(arg) / 1000,
                        "nplusone_reports": reports[0] - reports_before,
                    }
                ),
                flush=True,
            )
        elif command == "mem":
            print(json.dumps(aggregates_memory()), flush=True)
        elif command == "percall":
            print(json.dumps(per_query_cost(int(arg))), flush=True)
        else:
            break
    connection.close()


def dbopt_hooks() -> list[str]:
    """What django_dbopt actually hooked into this worker (after the warm-up requests)."""
    import weakref

    from django.conf import settings
    from django.core.signals import request_finished, request_started
    from django.db import connection
    from django.db.models import QuerySet
    from django.db.models.sql.compiler import SQLCompiler

    def ours(obj: Any) -> bool:
        return str(getattr(obj, "__module__", "")).startswith("django_dbopt")

    hooks = [m for m in settings.MIDDLEWARE if m.startswith("django_dbopt")]
    hooks += [
        f"execute wrapper ({getattr(w, '_dbopt_part', '?')})"
        for w in connection.execute_wrappers
        if getattr(w, "_dbopt_part", None) or ours(w)
    ]
    methods = {
        "QuerySet.get": QuerySet.get,
        "QuerySet._fetch_all": QuerySet._fetch_all,
        "SQLCompiler.execute_sql": SQLCompiler.execute_sql,
    }
    hooks += [f"{name} patched" for name, method in methods.items() if ours(method)]
    for name, signal in (
        ("request_started", request_started),
        ("request_finished", request_finished),
    ):
        for entry in signal.receivers:
            receiver = entry[1]
            if isinstance(receiver, weakref.ReferenceType):
                receiver = receiver()
            if ours(receiver):
                hooks.append(f"{name} receiver {receiver.__module__}.{receiver.__qualname__}")
    return hooks


def count_instructions(client: Any, requests: int) -> None:
    """Under callgrind (``--toggle-collect=_operator_call``): only what runs inside
    ``operator.call`` is counted, i.e. these requests, after a warm-up, with the heap
    frozen so that a full collection of the startup objects does not land in one variant."""
    import gc
    import operator

    def requests_() -> None:
        for _ in range(requests):
            client.get("/twenty/")

    gc.collect()
    gc.freeze()
    operator.call(requests_)


def instruction_counts(primary_url: str, requests: int) -> dict[str, float] | str:
    """Instructions per request of bare and monitor, each under callgrind (in parallel)."""
    import os
    import shutil
    import tempfile

    if shutil.which("valgrind") is None:
        return "no data (valgrind not installed)"
    folder = Path(tempfile.mkdtemp(prefix="dbopt-bench-cg-"))
    try:
        procs = {}
        for variant in ("bare", "monitor"):
            procs[variant] = subprocess.Popen(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--collect-atstart=no",
                    "--toggle-collect=_operator_call",
                    f"--callgrind-out-file={folder / variant}.out",
                    sys.executable,
                    __file__,
                    "--worker",
                    variant,
                    "--primary",
                    primary_url,
                    "--instructions",
                    str(requests),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=ROOT,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
        out: dict[str, float] = {}
        for variant, proc in procs.items():
            if proc.wait(timeout=600) != 0:
                return f"no data (callgrind run of {variant} exited with {proc.returncode})"
            text = (folder / f"{variant}.out").read_text()
            totals = [line for line in text.splitlines() if line.startswith("totals:")]
            if not totals:
                return f"no data (no callgrind totals for {variant})"
            out[variant] = int(totals[0].split()[1]) / requests
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def per_query_cost(requests: int) -> dict[str, float]:
    """The monitor's own cost per query, without database noise: the recorder around a
    no-op ``execute``, 20 queries per scope (a request), against the no-op alone."""
    from django_dbopt.monitor import scope
    from django_dbopt.monitor.capture import QueryRecorder

    sql = 'SELECT "users"."id", "users"."email" FROM "users" WHERE "users"."id" = %s LIMIT 21'
    recorder = QueryRecorder("default")

    def execute(sql: str, params: Any, many: bool, context: Any) -> None:
        return None

    def bare() -> int:
        started = time.perf_counter_ns()
        for _ in range(requests):
            for pk in range(QUERIES_PER_REQUEST):
                execute(sql, (pk,), False, {})
        return time.perf_counter_ns() - started

    def monitored() -> int:
        started = time.perf_counter_ns()
        for _ in range(requests):
            with scope("bench:percall"):
                for pk in range(QUERIES_PER_REQUEST):
                    recorder(execute, sql, (pk,), False, {})
        return time.perf_counter_ns() - started

    def view(request: Any) -> Any:
        for pk in range(QUERIES_PER_REQUEST):
            recorder(execute, sql, (pk,), False, {})
        return None

    def bare_view(request: Any) -> Any:
        for pk in range(QUERIES_PER_REQUEST):
            execute(sql, (pk,), False, {})
        return None

    from django.test import RequestFactory

    from django_dbopt.middleware import QueryMonitorMiddleware

    request = RequestFactory().get("/twenty/")
    middleware = QueryMonitorMiddleware(view)

    def bare_requests() -> int:
        started = time.perf_counter_ns()
        for _ in range(requests):
            bare_view(request)
        return time.perf_counter_ns() - started

    def monitored_requests() -> int:
        started = time.perf_counter_ns()
        for _ in range(requests):
            middleware(request)
        return time.perf_counter_ns() - started

    bare_ns = min(bare() for _ in range(3))
    monitored_ns = min(monitored() for _ in range(3))
    bare_request_ns = min(bare_requests() for _ in range(3))
    monitored_request_ns = min(monitored_requests() for _ in range(3))
    queries = requests * QUERIES_PER_REQUEST
    return {
        "added_us_per_query": (monitored_ns - bare_ns) / queries / 1000,
        "added_us_per_request": (monitored_request_ns - bare_request_ns) / requests / 1000,
    }


def setup() -> None:
    from django.core.management import call_command

    from example_project.demo.models import User

    call_command("migrate", run_syncdb=True, verbosity=0)
    if User.objects.count() < QUERIES_PER_REQUEST:
        User.objects.bulk_create(
            [User(email=f"bench{n}@example.com") for n in range(QUERIES_PER_REQUEST)]
        )


def aggregates_memory() -> dict[str, Any]:
    """Bytes held by the aggregates after 10,000 distinct fingerprints (tracemalloc)."""
    import gc
    import random
    import tracemalloc

    from django_dbopt.monitor.aggregates import Aggregates
    from django_dbopt.monitor.fingerprint import fingerprint

    rng = random.Random(1)
    sqls = [
        f'SELECT "t{n % 97}"."c{n}" FROM "t{n % 97}" WHERE "t{n % 97}"."k{n}" = %s'
        for n in range(10_000)
    ]
    out: dict[str, Any] = {}
    for cap in (5000, 10_000):  # the default MAX_FINGERPRINTS, and one that holds them all
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        aggregates = Aggregates(max_keys=cap)
        for sql in sqls:
            fp = fingerprint(sql)
            for _ in range(5):
                aggregates.add(
                    fp, "default", "bench:view", rng.randrange(80_000, 2_000_000), False
                )
        fingerprint.cache_clear()  # count only what the aggregates keep alive
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        size = sum(s.size_diff for s in after.compare_to(before, "filename"))
        out[str(cap)] = {"kept": len(aggregates), "evictions": aggregates.evictions, "bytes": size}
        del aggregates
    return out


# --- the orchestrator --------------------------------------------------------------------
def start_worker(variant: str, primary_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", variant, "--primary", primary_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def ask(proc: subprocess.Popen[str], command: str) -> dict[str, Any]:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"worker exited (code {proc.wait()})")
    return json.loads(line)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=15, help="requests per round")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="also count instructions of N requests of bare and monitor under callgrind "
        "(deterministic, ~1 min; 0 = skip)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--primary", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.primary, args.instructions)
        return

    from tests.services import start_services

    services = start_services()
    try:
        run(services.primary_url, services, args.requests, args.rounds, args.instructions)
    finally:
        if services.folder is not None:
            services.stop()


def run(
    primary_url: str, services: Any, requests: int, rounds: int, instructions: int = 0
) -> None:
    with services.connect("primary") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DBNAME}")
        conn.execute(f"CREATE DATABASE {DBNAME}")
    setup = start_worker("setup", primary_url)
    assert setup.stdout is not None
    json.loads(setup.stdout.readline())
    setup.wait()
    workers: dict[str, subprocess.Popen[str]] = {}
    hooks: dict[str, list[str]] = {}
    missing: dict[str, str] = {}
    for variant in VARIANTS:
        module = NEEDS.get(variant)
        if module and not importlib.util.find_spec(module):
            missing[variant] = "not installed (pip install 'django-dbopt[bench]')"
            continue
        proc = start_worker(variant, primary_url)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            missing[variant] = f"could not run (worker exited with {proc.wait()})"
            continue
        workers[variant] = proc
        hooks[variant] = json.loads(line).get("hooks", [])
    timings: dict[str, list[float]] = {v: [] for v in workers}
    cpu: dict[str, list[float]] = {v: [] for v in workers}
    thread_cpu: dict[str, list[float]] = {v: [] for v in workers}
    reported = dict.fromkeys(workers, 0)
    names = list(workers)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for variant in order:
            answer = ask(workers[variant], f"run {requests}")
            timings[variant].append(answer["us_per_request"])
            cpu[variant].append(answer["cpu_us_per_request"])
            thread_cpu[variant].append(answer["thread_us_per_request"])
            reported[variant] += answer["nplusone_reports"]
    memory = ask(workers["monitor"], "mem") if "monitor" in workers else None
    percall = ask(workers["monitor"], "percall 5000") if "monitor" in workers else None
    for proc in workers.values():
        assert proc.stdin is not None
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    counted = instruction_counts(primary_url, instructions) if instructions else None
    report(timings, cpu, thread_cpu, missing, memory, percall, requests, rounds)
    if "monitor" in hooks:
        print(
            f"monitor: N+1 reported (nplusone_detected) in {reported['monitor']} of the "
            f"{rounds * requests} timed requests"
        )
        print(
            "'monitor' = the whole django_dbopt app with DBOPT={} (the monitor on, the other "
            "parts unconfigured);\n  what it hooked into the request path of its worker "
            "(plus the monitor's flush thread):"
        )
        for hook in hooks["monitor"]:
            print(f"    {hook}")
    if isinstance(counted, str):
        print(f"instructions per request (callgrind): {counted}")
    elif counted:
        print(
            f"instructions per request of the request thread's work (callgrind, "
            f"{instructions} requests after warm-up; run --instructions 0 to skip):"
        )
        for variant, count in counted.items():
            print(f"  {variant:<13}{count:>14,.0f}{count / counted['bare']:>9.3f}x")
        print(
            "  (under valgrind the Python side runs ~50x slower, so duration thresholds "
            "such as\n  NPLUSONE_MIN_TOTAL_MS may trip where they do not at full speed)"
        )


def report(
    timings: dict[str, list[float]],
    cpu: dict[str, list[float]],
    thread_cpu: dict[str, list[float]],
    missing: dict[str, str],
    memory: dict[str, Any] | None,
    percall: dict[str, float] | None,
    requests: int,
    rounds: int,
) -> None:
    print(
        f"One request = {QUERIES_PER_REQUEST} primary-key queries on PostgreSQL; "
        f"{rounds} interleaved rounds x {requests} requests per variant."
    )
    medians = {v: statistics.median(t) for v, t in timings.items()}
    bests = {v: min(t) for v, t in timings.items()}
    bare, bare_best = medians.get("bare"), bests.get("bare")
    print(
        f"{'variant':<15}{'median us':>11}{'ratio':>9}{'best us':>11}{'ratio':>9}{'paired':>9}"
        "   each round (us/request)"
    )
    for variant in VARIANTS:
        if variant in missing:
            print(f"{variant:<15}{missing[variant]}")
            continue
        ratio = f"{medians[variant] / bare:.3f}x" if bare else "no data"
        best_ratio = f"{bests[variant] / bare_best:.3f}x" if bare_best else "no data"
        pairs = zip(timings[variant], timings.get("bare", []), strict=False)
        paired = f"{statistics.median(v / b for v, b in pairs):.3f}x" if bare else "no data"
        rounds_text = " ".join(f"{t:.0f}" for t in timings[variant])
        print(
            f"{variant:<15}{medians[variant]:>11.1f}{ratio:>9}{bests[variant]:>11.1f}"
            f"{best_ratio:>9}{paired:>9}   {rounds_text}"
        )
    cpu_medians = {v: statistics.median(t) for v, t in cpu.items()}
    cpu_bare = cpu_medians.get("bare")
    print(
        "CPU time of the Django process per request, all its threads (includes the "
        "monitor's flush thread):"
    )
    for variant in VARIANTS:
        if variant in cpu_medians:
            ratio = f"{cpu_medians[variant] / cpu_bare:.3f}x" if cpu_bare else "no data"
            print(f"  {variant:<13}{cpu_medians[variant]:>11.1f} us{ratio:>9}")
    thread_medians = {v: statistics.median(t) for v, t in thread_cpu.items()}
    thread_best = {v: min(t) for v, t in thread_cpu.items()}
    thread_bare = thread_medians.get("bare")
    print(
        "CPU time of the request thread only per request (time.thread_time; no background "
        "threads), median / best round / paired:"
    )
    for variant in VARIANTS:
        if variant in thread_medians:
            if thread_bare:
                pairs = zip(thread_cpu[variant], thread_cpu["bare"], strict=False)
                paired = f"{statistics.median(v / b for v, b in pairs):.3f}x"
                ratio = f"{thread_medians[variant] / thread_bare:.3f}x"
                best = f"{thread_best[variant] / thread_best['bare']:.3f}x"
            else:
                ratio = best = paired = "no data"
            print(
                f"  {variant:<13}{thread_medians[variant]:>11.1f} us{ratio:>9}"
                f"{thread_best[variant]:>11.1f} us{best:>9}{paired:>9}"
            )
    if bare and "monitor" in medians:
        added = (medians["monitor"] - bare) / QUERIES_PER_REQUEST
        print(f"monitor: {added:+.2f} us added per query (median request time difference / 20)")
    if cpu_bare and "monitor" in cpu_medians:
        added_cpu = (cpu_medians["monitor"] - cpu_bare) / QUERIES_PER_REQUEST
        print(f"monitor: {added_cpu:+.2f} us CPU added per query (median CPU difference / 20)")
    if thread_bare and "monitor" in thread_medians:
        added_thread = (thread_medians["monitor"] - thread_bare) / QUERIES_PER_REQUEST
        print(
            f"monitor: {added_thread:+.2f} us request-thread CPU added per query "
            "(median difference / 20)"
        )
    if percall:
        print(
            f"monitor: {percall['added_us_per_query']:.2f} us added per query measured directly "
            "(recorder around a no-op execute, 20 queries per scope, best of 3)"
        )
        per_request = percall["added_us_per_request"]
        print(
            f"monitor: {per_request:.1f} us added per request measured directly (middleware, "
            "scope, 20 recorded no-op queries from one line: the repetition is confirmed, "
            "not reported)"
        )
        if bare:
            print(
                f"monitor: that is {(bare + per_request) / bare:.4f}x the median bare request "
                "above"
            )
    if memory:
        for cap, m in memory.items():
            print(
                f"aggregates after 10,000 distinct fingerprints, MAX_FINGERPRINTS={cap}: "
                f"{m['bytes'] / 1024:.0f} KiB for {m['kept']} kept "
                f"({m['bytes'] / max(m['kept'], 1):.0f} B each), {m['evictions']} evicted"
            )


if __name__ == "__main__":
    main()

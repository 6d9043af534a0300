"""The lock queue behind a blocked migration: how long readers of the table wait.

A long transaction reads a table and holds it for ``HOLD_S``; meanwhile ``dbopt_migrate``
applies a migration that needs an ACCESS EXCLUSIVE lock on it (``ALTER TABLE ... ADD
COLUMN``), and a reader loop times ``SELECT count(*)`` on the same table. Every reader
that arrives while the migration waits for its lock queues behind it, so the worst
reader wait is about the longest ``lock_timeout`` an attempt used. Measured side by
side, in one run, with the old defaults (5 s, 3 retries) and the new ones (100 ms
doubling to 2 s, 10 retries, jittered backoff).

Starts its own PostgreSQL (tests.services) unless the DBOPT_TEST_* variables name
running ones, and stops it at the end. Run from the repository root:

    .venv/bin/python benchmarks/migrate_lock_queue.py
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
from django.conf import settings

from tests.services import start_services

HOLD_S = 6.0
APP = "migrate_attack_app"
OLD_DEFAULTS = {
    "LOCK_TIMEOUT_MS": 5000,
    "LOCK_TIMEOUT_MAX_MS": 5000,
    "RETRIES": 3,
    "RETRY_BACKOFF_S": 1.0,
    "RETRY_BACKOFF_MAX_S": 3600.0,
}
NEW_DEFAULTS: dict[str, Any] = {}


def _db(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": parts.hostname,
        "PORT": str(parts.port),
        "USER": parts.username or "postgres",
        "NAME": "postgres",
    }


def main() -> None:
    services = start_services()
    try:
        settings.configure(
            INSTALLED_APPS=[
                "django.contrib.contenttypes",
                "django.contrib.auth",
                "django_dbopt",
                "tests.migrate_attack_app",
            ],
            DATABASES={"default": _db(services.primary_url)},
            USE_TZ=True,
            SECRET_KEY="benchmark",
        )
        django.setup()
        results = {name: measure(options) for name, options in scenarios()}
        report(results)
    finally:
        from django.db import connections

        for conn in connections.all(initialized_only=True):
            conn.close()
        services.stop()


def scenarios() -> list[tuple[str, dict[str, Any]]]:
    return [("old defaults", OLD_DEFAULTS), ("new defaults", NEW_DEFAULTS)]


def _session(autocommit: bool) -> Any:
    import psycopg
    from django.db import connection

    params = connection.settings_dict
    return psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        user=params["USER"],
        dbname=params["NAME"],
        autocommit=autocommit,
    )


def measure(options: dict[str, Any]) -> dict[str, Any]:
    from django.core.management import call_command
    from django.test.utils import override_settings

    from django_dbopt.migration_run import run

    call_command("migrate", APP, "zero", verbosity=0)
    call_command("migrate", APP, "0002", verbosity=0)
    stop, waits = threading.Event(), list[float]()

    def reader() -> None:
        with _session(autocommit=True) as conn:
            while not stop.is_set():
                started = time.monotonic()
                conn.execute("SELECT count(*) FROM migrate_attack_app_account").fetchall()
                waits.append(time.monotonic() - started)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    while len(waits) < 100:
        time.sleep(0.01)
    with _session(autocommit=False) as blocker:
        blocker.execute("SELECT * FROM migrate_attack_app_account")
        timer = threading.Timer(HOLD_S, blocker.rollback)
        timer.start()
        started = time.monotonic()
        with override_settings(DBOPT={"MIGRATIONS": options}):
            record = run("default", APP, "0003", verbosity=0)
        elapsed = time.monotonic() - started
        timer.join()
    stop.set()
    thread.join()
    (step,) = record.migrations
    return {
        "outcome": record.outcome,
        "attempts": step.attempts,
        "lock_timeouts_ms": step.lock_timeouts_ms,
        "run_s": elapsed,
        "reads": len(waits),
        "worst_ms": max(waits) * 1000,
        "p99_ms": statistics.quantiles(waits, n=100)[98] * 1000,
        "over_1s": sum(w > 1.0 for w in waits),
        "reported_ms": record.worst_reader_wait_ms,
    }


def report(results: dict[str, dict[str, Any]]) -> None:
    print(f"blocking transaction held for {HOLD_S:.0f} s; reader loop on the same table")
    for name, r in results.items():
        print(
            f"{name:>13}: {r['outcome']} after {r['attempts']} attempt(s) "
            f"(lock_timeout ms {r['lock_timeouts_ms']}) in {r['run_s']:.1f} s; "
            f"{r['reads']} reads, worst reader wait {r['worst_ms']:.0f} ms, "
            f"p99 {r['p99_ms']:.1f} ms, {r['over_1s']} read(s) over 1 s; "
            f"run reported worst reader wait {r['reported_ms']} ms"
        )
    old, new = results["old defaults"], results["new defaults"]
    print(f"worst reader wait, new / old defaults: {new['worst_ms'] / old['worst_ms']:.2f}x")


if __name__ == "__main__":
    main()

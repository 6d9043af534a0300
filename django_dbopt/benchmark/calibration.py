"""The calibration row: the raw database floor on the same machine.

A ``SELECT 1`` loop on a connection of its own, below Django (psycopg for PostgreSQL,
the ``sqlite3`` module for SQLite), timed per round trip into the same histogram as the
workloads. What a workload costs above it is the ORM's and the app's share.
pgbench ``-S`` is not used: it needs its own tables (``pgbench -i``) in the database.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from django.db import connections

from django_dbopt.monitor import histogram


def _loop(execute: Any, iterations: int) -> dict[int, int]:
    hist: dict[int, int] = {}
    for _ in range(iterations):
        began = time.perf_counter_ns()
        execute()
        bucket = histogram.bucket_of(time.perf_counter_ns() - began)
        hist[bucket] = hist.get(bucket, 0) + 1
    return hist


def calibrate(alias: str, iterations: int = 500) -> dict[str, Any] | None:
    """Round trips of ``SELECT 1``: percentiles and the rate of one client, or None."""
    conn = connections[alias]
    began = time.perf_counter()
    if conn.vendor == "postgresql":
        import psycopg

        params = conn.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        with psycopg.connect(**params, autocommit=True) as raw, raw.cursor() as cursor:

            def run() -> None:
                cursor.execute("SELECT 1")
                cursor.fetchone()

            hist = _loop(run, iterations)
        method = "psycopg SELECT 1 loop"
    elif conn.vendor == "sqlite":
        name = conn.settings_dict["NAME"]
        with sqlite3.connect(str(name), uri=str(name).startswith("file:")) as lite:
            hist = _loop(lambda: lite.execute("SELECT 1").fetchone(), iterations)
        method = "sqlite3 SELECT 1 loop"
    else:
        return None
    elapsed = time.perf_counter() - began
    pcts = histogram.percentiles_ms(hist, (0.5, 0.99))
    return {
        "method": method,
        "iterations": iterations,
        "p50_ms": pcts["p50"],
        "p99_ms": pcts["p99"],
        "ops_per_s": round(iterations / elapsed, 1) if elapsed > 0 else None,
    }

"""What a run ran on, and what it cost: environment record, resources, server stats.

- ``environment(alias)``: versions, machine, database server, the parts configured;
  its digest (``env_key``) groups runs that can be compared;
- ``Resources``: this process's CPU time and memory over a span (``resource`` and
  ``/proc/self/statm``);
- ``pg_stat_database`` deltas of the benchmark's database, when it is PostgreSQL (the
  server publishes backends' counters within about a second of their transactions), and
  the statements with the most time in ``pg_stat_statements`` when it is installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

import django
from django.conf import settings
from django.db import DatabaseError, connections

import django_dbopt

PG_STAT_COLUMNS = (
    "xact_commit",
    "xact_rollback",
    "blks_read",
    "blks_hit",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "conflicts",
    "temp_bytes",
    "deadlocks",
)


def server_version(alias: str) -> str:
    conn = connections[alias]
    conn.ensure_connection()
    if conn.vendor == "postgresql":
        number = conn.pg_version  # type: ignore[attr-defined]
        return f"PostgreSQL {number // 10000}.{number % 100}"
    if conn.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    return f"{conn.display_name}"


def parts_configured(alias: str) -> dict[str, Any]:
    from django_dbopt.benchmark.scratch import replicas_of
    from django_dbopt.conf import get_config

    config = get_config()
    cache_settings: Any = settings.CACHES.get(config.cache.cache, {})
    cache_backend = str(cache_settings.get("BACKEND", ""))
    options = connections.settings[alias].get("OPTIONS", {})
    return {
        "monitor": config.monitor.enabled,
        "router": "django_dbopt.routing.ReplicaRouter" in settings.DATABASE_ROUTERS,
        "replicas": len(replicas_of(alias)),
        "cache_backend": cache_backend.rsplit(".", 1)[-1],
        "orm_models": len(config.cache.orm_models),
        "pool": bool(options.get("pool")),
    }


def environment(alias: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "python": platform.python_version(),
        "django": django.get_version(),
        "django_dbopt": django_dbopt.__version__,
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "database": {
            "alias": alias,
            "vendor": connections[alias].vendor,
            "server": server_version(alias),
        },
        "parts": parts_configured(alias),
    }
    record["env_key"] = env_key(record)
    return record


def env_key(record: dict[str, Any]) -> str:
    """Runs are comparable when these match: machine, versions, server, parts."""
    keep = {k: record[k] for k in ("django", "python", "host", "cpus", "machine", "parts")}
    keep["server"] = record["database"]["server"]
    blob = json.dumps(keep, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Resources:
    """CPU time and memory of this process over a span."""

    wall: float
    user: float
    system: float

    @classmethod
    def start(cls) -> Resources:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(time.monotonic(), usage.ru_utime, usage.ru_stime)

    def stop(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.monotonic() - self.wall
        user, system = usage.ru_utime - self.user, usage.ru_stime - self.system
        # ru_maxrss is in kilobytes on Linux, bytes on macOS
        peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        return {
            "wall_s": round(wall, 3),
            "cpu_user_s": round(user, 3),
            "cpu_system_s": round(system, 3),
            "cpu_percent": round(100 * (user + system) / wall, 1) if wall > 0 else None,
            "rss_bytes": _rss_bytes(),
            "peak_rss_bytes": peak,
        }


def pg_stat_database(alias: str) -> dict[str, int] | None:
    """This database's counters in ``pg_stat_database`` (None off PostgreSQL or on error)."""
    conn = connections[alias]
    if conn.vendor != "postgresql":
        return None
    columns = ", ".join(PG_STAT_COLUMNS)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                f"SELECT {columns} FROM pg_stat_database WHERE datname = current_database()"  # noqa: S608
            )
            row = cursor.fetchone()
    except DatabaseError:
        return None
    if row is None:
        return None
    return {name: int(value or 0) for name, value in zip(PG_STAT_COLUMNS, row, strict=True)}


_STATEMENTS_SQL = """
SELECT s.queryid::text, s.calls, s.total_exec_time, left(s.query, 300)
FROM pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.queryid IS NOT NULL
"""

Statements = dict[str, tuple[int, float, str]]


def pg_stat_statements(alias: str) -> Statements | None:
    """``queryid -> (calls, total_exec_time ms, query)`` of this database, when the
    ``pg_stat_statements`` extension is installed in it (None otherwise). The server keeps
    statements normalized (``$1``): no parameter values."""
    conn = connections[alias]
    if conn.vendor != "postgresql":
        return None
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
            if cursor.fetchone() is None:
                return None
            cursor.execute(_STATEMENTS_SQL)
            rows = cursor.fetchall()
    except DatabaseError:
        return None
    return {qid: (int(calls), float(total), text) for qid, calls, total, text in rows}


def statements_delta(
    before: Statements | None, after: Statements | None, top: int = 10
) -> list[dict[str, Any]] | None:
    """The statements with the most execution time during the run (every client's)."""
    if before is None or after is None:
        return None
    changed: list[tuple[float, int, str]] = []
    for qid, (calls, total, text) in after.items():
        old_calls, old_total, _ = before.get(qid, (0, 0.0, text))
        if calls > old_calls:
            changed.append((round(total - old_total, 3), calls - old_calls, text))
    changed.sort(key=lambda item: -item[0])
    return [{"query": q, "calls": n, "total_ms": ms} for ms, n, q in changed[:top]]


def delta(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, int] | None:
    if before is None or after is None:
        return None
    return {key: after[key] - before[key] for key in before}

"""Recommendations drawn from what the query monitor saw during the run.

- **N+1**: every ``nplusone_detected`` signal sent while the benchmark ran (with the
  monitor's ``select_related`` / ``prefetch_related`` hint);
- **slow queries**: every ``slow_query`` signal (over ``MONITOR.SLOW_QUERY_MS``);
- **indexes**: the monitor's index advice (``monitor.advice.advise_query``) for the read
  queries that took the most time, proved with HypoPG when the extension is there
  ("validated") and labelled "unvalidated" otherwise — run while the tables exist;
- **cache candidates**: tables the workloads read at least ``READ_WRITE_RATIO`` times
  as often as they wrote them (at least ``MIN_READS`` reads), not cached yet: add their
  models to ``DBOPT['CACHE']['ORM_MODELS']``. The benchmark's own scratch tables are
  left out.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db import DatabaseError
from sqlglot.errors import SqlglotError

from django_dbopt import signals
from django_dbopt.benchmark.scratch import TABLES
from django_dbopt.sqlkind import statement_kind

logger = logging.getLogger("django_dbopt.benchmark")

READ_WRITE_RATIO = 10
MIN_READS = 50
MAX_INDEX_QUERIES = 5


class FindingsCollector:
    """Receives the monitor's signals while connected (``with collector:``)."""

    def __init__(self) -> None:
        self.nplusone: dict[tuple[str, str], dict[str, Any]] = {}
        self.slow: dict[str, dict[str, Any]] = {}

    def _on_nplusone(self, sender: Any, **kw: Any) -> None:
        key = (kw["fingerprint"], kw["call_site"])
        held = self.nplusone.get(key)
        if held is None:
            self.nplusone[key] = {
                "kind": "n+1",
                "fingerprint": kw["fingerprint"],
                "view": kw["view"],
                "call_site": kw["call_site"],
                "count": kw["count"],
                "hint": kw["hint"],
                "scopes": 1,
            }
        else:
            held["scopes"] += 1
            held["count"] = max(held["count"], kw["count"])

    def _on_slow(self, sender: Any, **kw: Any) -> None:
        held = self.slow.setdefault(
            kw["fingerprint"],
            {
                "kind": "slow",
                "fingerprint": kw["fingerprint"],
                "sql": kw["sql"][:300],
                "view": kw["view"],
                "count": 0,
                "max_ms": 0.0,
            },
        )
        held["count"] += 1
        held["max_ms"] = max(held["max_ms"], kw["duration_ms"])

    def __enter__(self) -> FindingsCollector:
        signals.nplusone_detected.connect(self._on_nplusone, weak=False)
        signals.slow_query.connect(self._on_slow, weak=False)
        return self

    def __exit__(self, *exc: object) -> None:
        signals.nplusone_detected.disconnect(self._on_nplusone)
        signals.slow_query.disconnect(self._on_slow)


def _tables(sql: str) -> frozenset[str]:
    from django_dbopt.cache.tables import tables_in

    return tables_in(sql)


def cache_candidates(fingerprints: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    from django_dbopt.cache.tables import configured_tables

    reads: Counter[str] = Counter()
    writes: Counter[str] = Counter()
    for fp in fingerprints:
        kind = statement_kind(fp["sql"])
        for table in _tables(fp["sql"]):
            if kind == "read":
                reads[table] += fp["count"]
            elif kind == "write":
                writes[table] += fp["count"]
    cached = configured_tables()
    out = []
    for table, n in reads.most_common():
        if table in TABLES or table in cached or n < MIN_READS:
            continue
        if n >= READ_WRITE_RATIO * writes[table]:
            out.append(
                {
                    "kind": "cache",
                    "table": table,
                    "reads": n,
                    "writes": writes[table],
                    "text": f"{table}: {n} reads for {writes[table]} writes during the run; "
                    "cache it: add its model to DBOPT['CACHE']['ORM_MODELS']",
                }
            )
    return out


def index_advice(fingerprints: list[dict[str, Any]], alias: str) -> list[dict[str, Any]]:
    from django_dbopt.monitor.advice import advise_query

    reads = [fp for fp in fingerprints if statement_kind(fp["sql"]) == "read"]
    reads.sort(key=lambda fp: -fp["total_ns"])
    out: list[dict[str, Any]] = []
    for fp in reads[:MAX_INDEX_QUERIES]:
        try:
            advice = advise_query(fp["id"], fp["sql"], alias, fp["count"], fp["total_ns"] / 1e6)
        except (DatabaseError, SqlglotError) as e:
            logger.info("no index advice for %s: %s", fp["id"], e)
            continue
        for item in advice:
            out.append(
                {
                    "kind": "index",
                    "table": item.table,
                    "columns": item.columns,
                    "status": item.status,
                    "ddl": item.ddl,
                    "fingerprint": item.fingerprint,
                    "est_saved_ms": item.est_saved_ms,
                    "text": f"index on {item.table}({', '.join(item.columns)}) [{item.status}]",
                }
            )
    return out


def describe(collector: FindingsCollector) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in collector.nplusone.values():
        hint = f"; {item['hint']}" if item["hint"] else ""
        out.append(
            {
                **item,
                "text": f"N+1 in {item['view']} at {item['call_site']}: "
                f"{item['count']} repeats of one query{hint}",
            }
        )
    for item in collector.slow.values():
        out.append(
            {
                **item,
                "text": f"slow query ({item['count']}x, up to "
                f"{item['max_ms']:.1f} ms) in {item['view']}: {item['sql'][:120]}",
            }
        )
    return out

"""EXPLAIN, safely and off the request path: SELECT only, rolled back, time-limited.

A statement is refused (``UnsafeQuery``) unless ``sqlkind`` calls it a read, it starts
with SELECT/WITH/VALUES/TABLE and sqlglot parses it as exactly one statement. It runs
inside a transaction (or savepoint) that is always rolled back, made ``READ ONLY`` when it
is a fresh transaction, with ``SET LOCAL statement_timeout``. A fingerprint's normalized
SQL (values replaced by ``?``) is explained as PostgreSQL's generic plan: prepared with
``$n`` parameters and executed under ``plan_cache_mode = force_generic_plan``. ``ANALYZE``
is only offered for SQL with real values. The monitor's own queries here are not recorded.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from django.db import DatabaseError, connections, transaction
from sqlglot.errors import ParseError

from django_dbopt.conf import get_config
from django_dbopt.exceptions import NotSupported, UnsafeQuery
from django_dbopt.monitor.scope import suppressed
from django_dbopt.sqlkind import statement_kind

_READ_START = re.compile(r"^\s*\(?\s*(SELECT|WITH|VALUES|TABLE)\b", re.IGNORECASE)
_COUNTER = itertools.count()


class _Rollback(Exception):
    """Raised to roll the EXPLAIN transaction back."""


@dataclass
class Explained:
    plan: dict[str, Any]
    total_cost: float
    analyzed: bool
    findings: list[dict[str, Any]] = field(default_factory=list)


def parameterize(shape: str) -> tuple[str, int]:
    """A fingerprint's SQL with ``?`` and ``(...)`` turned into ``$1``, ``$2``..."""
    counter = itertools.count(1)
    text = shape.replace("(...)", "(?)")
    out = re.sub(r"\?", lambda _: f"${next(counter)}", text)
    return out, next(counter) - 1


def check_select(sql: str) -> None:
    """Raise ``UnsafeQuery`` unless ``sql`` is one read-only SELECT-like statement."""
    if statement_kind(sql) != "read" or not _READ_START.match(sql):
        raise UnsafeQuery(f"EXPLAIN runs only SELECT statements, not: {sql[:80]!r}")
    probe = re.sub(r"%s|%\(\w+\)s|\?", "NULL", sql.replace("(...)", "(?)"))
    try:
        statements = [s for s in sqlglot.parse(probe, read="postgres") if s is not None]
    except ParseError as e:
        raise UnsafeQuery(f"EXPLAIN refused a statement it cannot parse: {e}") from e
    if len(statements) != 1:
        raise UnsafeQuery(f"EXPLAIN runs one statement at a time; got {len(statements)}")


def explain(
    sql: str,
    params: Any = None,
    *,
    using: str = "default",
    analyze: bool = False,
    generic: bool | None = None,
) -> Explained:
    """EXPLAIN (FORMAT JSON) ``sql`` on ``using``; generic plan for ``?``-shapes."""
    check_select(sql)
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise NotSupported(f"EXPLAIN analysis needs PostgreSQL; {using!r} is {connection.vendor}")
    generic = ("?" in sql) if generic is None else generic
    if generic and analyze:
        raise UnsafeQuery("ANALYZE needs real parameter values; a fingerprint has none")
    options = "FORMAT JSON, ANALYZE, BUFFERS" if analyze else "FORMAT JSON"
    timeout = get_config().monitor.explain_timeout_ms
    token = suppressed.set(True)
    try:
        return _run(connection, sql, params, options, timeout, generic, analyze)
    finally:
        suppressed.reset(token)


def _run(
    connection: Any,
    sql: str,
    params: Any,
    options: str,
    timeout: int,
    generic: bool,
    analyze: bool,
) -> Explained:
    fresh = not connection.in_atomic_block
    name = f"dbopt_explain_{next(_COUNTER)}"
    result: list[Any] = []
    prepared = False
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if fresh:
                cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(f"SET LOCAL statement_timeout = {int(timeout)}")
            if generic:
                text, count = parameterize(sql)
                cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                cursor.execute(f"PREPARE {name} AS {text}")
                prepared = True
                args = f"({', '.join(['NULL'] * count)})" if count else ""
                cursor.execute(f"EXPLAIN ({options}) EXECUTE {name}{args}")
            else:
                cursor.execute(f"EXPLAIN ({options}) {sql}", params)
            result.append(cursor.fetchone()[0])
            raise _Rollback
    except _Rollback:
        pass
    finally:
        if prepared:
            _deallocate(connection, name)
    raw = result[0]
    document = json.loads(raw) if isinstance(raw, str) else raw
    top = document[0]
    return Explained(plan=top, total_cost=float(top["Plan"]["Total Cost"]), analyzed=analyze)


def _deallocate(connection: Any, name: str) -> None:
    """Prepared statements outlive transactions: drop ours (ignore if already gone)."""
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(f"DEALLOCATE {name}")
    except DatabaseError:
        pass  # the PREPARE was undone with its transaction


def plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    out = [node]
    for child in node.get("Plans", []):
        out.extend(plan_nodes(child))
    return out


def plan_key(sql: str, using: str) -> str:
    return hashlib.blake2b(f"{using}|{sql}".encode(), digest_size=8).hexdigest()


def table_rows(using: str, tables: set[str]) -> dict[str, int]:
    """Live row estimates from ``pg_class`` (kept fresh by autovacuum/ANALYZE)."""
    if not tables:
        return {}
    token = suppressed.set(True)
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT relname, GREATEST(reltuples, 0)::bigint FROM pg_class "
                "WHERE relkind = 'r' AND relname = ANY(%s)",
                [sorted(tables)],
            )
            return {name: int(rows) for name, rows in cursor.fetchall()}
    except DatabaseError:
        return {}
    finally:
        suppressed.reset(token)

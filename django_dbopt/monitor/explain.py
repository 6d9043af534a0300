"""EXPLAIN, safely and off the request path: one SELECT, read-only, rolled back, time-limited.

What PostgreSQL receives is decided by PostgreSQL itself, never by a second parser:

- every statement goes over the extended query protocol (psycopg server-side binding),
  whose Parse message refuses a string holding several statements, so no quoting trick
  can append ``; COMMIT; <anything>``;
- a fingerprint's SQL (values replaced by ``?``) becomes ``$n`` parameters and is
  ``PREPARE``d (the parameters typed by PostgreSQL, as unknown-typed ``$n``); only
  preparable statements (SELECT, VALUES, INSERT, UPDATE, DELETE, MERGE) get through, and
  a plan with a ``ModifyTable`` (data-modifying CTE included) or ``LockRows`` node is
  refused before anything runs. It is explained as PostgreSQL's generic plan
  (``plan_cache_mode = force_generic_plan``);
- the whole thing runs in its own transaction (a savepoint when the caller is already in
  one), ``SET LOCAL transaction_read_only = on`` first, with ``SET LOCAL
  statement_timeout``, and is always rolled back: a function with side effects fails on
  its first write and leaves nothing;
- ``MONITOR.EXPLAIN_DATABASE`` sends EXPLAIN to a dedicated alias (a low-privilege role
  or a standby; see docs/security.md).

A cheap first filter (``check_select``) refuses what is plainly not a read. ``ANALYZE`` is
only offered for SQL with real values. The monitor's own queries here are not recorded.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db import DatabaseError, connections, transaction

from django_dbopt.conf import get_config
from django_dbopt.exceptions import NotSupported, UnsafeQuery
from django_dbopt.monitor.scope import suppressed
from django_dbopt.sqlkind import statement_kind

_READ_START = re.compile(r"^\s*\(?\s*(SELECT|WITH|VALUES|TABLE)\b", re.IGNORECASE)
_MODIFYING_CTE = re.compile(r"\bWITH\b.*\b(DELETE|UPDATE|INSERT|MERGE)\b", re.I | re.S)
#: plan nodes that write or lock: refused even though EXPLAIN alone would not run them
_WRITING_NODES = frozenset({"ModifyTable", "LockRows"})
_MULTIPLE = "cannot insert multiple commands into a prepared statement"
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
    """Raise ``UnsafeQuery`` unless ``sql`` plainly looks like a read (a first filter:
    PostgreSQL itself decides what the statement is, see the module docstring)."""
    if statement_kind(sql) != "read" or not _READ_START.match(sql) or _MODIFYING_CTE.search(sql):
        raise UnsafeQuery(f"EXPLAIN runs only SELECT statements, not: {sql[:80]!r}")


def explain_alias(using: str) -> str:
    """The alias EXPLAIN runs on: ``MONITOR.EXPLAIN_DATABASE`` when set, else ``using``."""
    return get_config().monitor.explain_database or using


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
    connection = connections[explain_alias(using)]
    if connection.vendor != "postgresql":
        raise NotSupported(
            f"EXPLAIN analysis needs PostgreSQL; {connection.alias!r} is {connection.vendor}"
        )
    generic = ("?" in sql) if generic is None else generic
    if generic and analyze:
        raise UnsafeQuery("ANALYZE needs real parameter values; a fingerprint has none")
    timeout = get_config().monitor.explain_timeout_ms
    token = suppressed.set(True)
    try:
        with connection.wrap_database_errors:
            return _run(connection, sql, params, timeout, generic, analyze)
    finally:
        suppressed.reset(token)


def _extended(cursor: psycopg.Cursor[Any], sql: str, params: Any = None) -> None:
    """Execute over the extended protocol (one statement; binary forces it without
    parameters)."""
    try:
        cursor.execute(sql, params, binary=True)
    except psycopg.errors.SyntaxError as e:
        if _MULTIPLE in str(e):
            raise UnsafeQuery("EXPLAIN runs one statement at a time; got several") from e
        raise


def _run(
    connection: Any, sql: str, params: Any, timeout: int, generic: bool, analyze: bool
) -> Explained:
    connection.ensure_connection()
    name = f"dbopt_explain_{next(_COUNTER)}"
    result: list[Any] = []
    prepared = False
    try:
        with (
            transaction.atomic(using=connection.alias),
            psycopg.Cursor(connection.connection) as cursor,
        ):
            _extended(cursor, "SET LOCAL transaction_read_only = on")
            _extended(cursor, f"SET LOCAL statement_timeout = {int(timeout)}")
            if generic:
                text, count = parameterize(sql)
                _extended(cursor, "SET LOCAL plan_cache_mode = force_generic_plan")
                _extended(cursor, f"PREPARE {name} AS {text}")
                prepared = True
                body = f"EXECUTE {name}" + (f"({', '.join(['NULL'] * count)})" if count else "")
                params = None
            else:
                body = sql
            _extended(cursor, f"EXPLAIN (FORMAT JSON) {body}", params)
            result.append(_document(cursor.fetchone()))
            _refuse_writes(result[0], sql)
            if analyze:
                _extended(cursor, f"EXPLAIN (FORMAT JSON, ANALYZE, BUFFERS) {body}", params)
                result[0] = _document(cursor.fetchone())
            raise _Rollback
    except _Rollback:
        pass
    finally:
        if prepared:
            _deallocate(connection, name)
    top = result[0][0]
    return Explained(plan=top, total_cost=float(top["Plan"]["Total Cost"]), analyzed=analyze)


def _document(row: Any) -> Any:
    raw = row[0]
    if isinstance(raw, bytes | bytearray | memoryview):
        raw = bytes(raw).decode()
    return json.loads(raw) if isinstance(raw, str) else raw


def _refuse_writes(document: Any, sql: str) -> None:
    """PostgreSQL's own plan says what the statement does: no writing or locking node."""
    for node in plan_nodes(document[0]["Plan"]):
        if node.get("Node Type") in _WRITING_NODES:
            raise UnsafeQuery(
                f"EXPLAIN refused a statement whose plan has {node['Node Type']}: {sql[:80]!r}"
            )


def _deallocate(connection: Any, name: str) -> None:
    """Prepared statements outlive transactions: drop ours (ignore if already gone)."""
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(f"DEALLOCATE {name}")
    except DatabaseError:
        pass  # the PREPARE failed, so there is nothing to drop


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

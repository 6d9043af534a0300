"""What indexes a PostgreSQL database has, which are unused and which are duplicates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connections
from psycopg import sql

from django_dbopt.monitor.scope import suppressed

_INDEXES = """
SELECT t.relname, i.relname, x.indisunique, x.indisprimary, x.indpred IS NOT NULL,
       x.indisvalid, ARRAY(
         SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
         LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
         ORDER BY k.n),
       pg_relation_size(i.oid), COALESCE(s.idx_scan, 0)
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace ns ON ns.oid = t.relnamespace
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = x.indexrelid
WHERE ns.nspname = ANY(current_schemas(false)) {where}
ORDER BY t.relname, i.relname
"""


_COLUMNS = """
SELECT t.relname, a.attname
FROM pg_attribute a
JOIN pg_class t ON t.oid = a.attrelid
JOIN pg_namespace ns ON ns.oid = t.relnamespace
WHERE ns.nspname = ANY(current_schemas(false)) AND t.relkind IN ('r', 'p', 'm')
  AND a.attnum > 0 AND NOT a.attisdropped AND t.relname = ANY(%s)
"""


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier, quoted and escaped (psycopg's ``Identifier``)."""
    return sql.Identifier(name).as_string(None)


def table_columns(using: str, tables: set[str]) -> dict[str, set[str]]:
    """The columns each of ``tables`` really has (``pg_attribute``, visible schemas)."""
    if not tables:
        return {}
    token = suppressed.set(True)
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(_COLUMNS, [sorted(tables)])
            rows = cursor.fetchall()
    finally:
        suppressed.reset(token)
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


@dataclass
class IndexInfo:
    table: str
    name: str
    unique: bool
    primary: bool
    partial: bool
    valid: bool
    columns: list[str]  # an expression column is ""
    size_bytes: int
    scans: int


def _query(using: str, where: str, params: list[Any]) -> list[IndexInfo]:
    token = suppressed.set(True)
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(_INDEXES.format(where=where), params)
            rows = cursor.fetchall()
    finally:
        suppressed.reset(token)
    return [
        IndexInfo(t, n, u, p, part, v, [c or "" for c in cols], size, scans)
        for t, n, u, p, part, v, cols, size, scans in rows
    ]


def existing_indexes(using: str, tables: set[str]) -> dict[str, list[IndexInfo]]:
    out: dict[str, list[IndexInfo]] = {}
    for index in _query(using, "AND t.relname = ANY(%s)", [sorted(tables)]):
        out.setdefault(index.table, []).append(index)
    return out


def has_hypopg(using: str) -> bool:
    token = suppressed.set(True)
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'hypopg'")
            return cursor.fetchone() is not None
    finally:
        suppressed.reset(token)


def unused_indexes(using: str) -> list[dict[str, Any]]:
    """Indexes scanned on neither ``using`` nor its replicas (see ``index_usage``)."""
    from django_dbopt.monitor import index_usage

    found: list[dict[str, Any]] = index_usage.unused_indexes(using)["indexes"]
    return found


def duplicate_indexes(using: str) -> list[dict[str, Any]]:
    """Indexes another index fully serves (method, opclass, collation, predicate)."""
    from django_dbopt.monitor import index_usage

    return index_usage.duplicate_indexes(using)

"""Unused and duplicate indexes, judged the way PostgreSQL uses them.

- **Unused**: an index nobody scanned since statistics were reset, on the primary *and*
  on every replica of it (``ROUTING.REPLICAS``): a standby keeps its own
  ``pg_stat_user_indexes``, and with a replica router most reads, and so most index
  scans, happen there. Indexes that back a constraint (primary key, unique, exclusion)
  or enforce uniqueness are never listed: they are needed even when never scanned. Each
  database's statistics reset time is shown: "unused" means "since then". A replica that
  cannot be read makes the list say so, since the verdict is then incomplete.
  django-dbopt's own tables (``dbopt_*``) are left out: their indexes serve maintenance
  that runs rarely (compaction, pruning).
- **Duplicate**: index A is covered by B when both are valid, on the same table, of the
  same access method, with the same partial predicate and expressions, and A's key
  columns are a leading prefix of B's (btree) or equal to them (other methods) with the
  same operator classes, collations and sort options. So a ``varchar_pattern_ops``
  index (Django's ``_like`` index) is not covered by a plain btree on the same column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connections

from django_dbopt.monitor.scope import suppressed
from django_dbopt.topology import replicas_of

_INDEXES = """
SELECT ns.nspname, t.relname, i.relname, am.amname, x.indisunique, x.indisprimary,
       x.indisvalid, x.indnkeyatts, x.indkey::int2[], x.indclass::oid[],
       x.indcollation::oid[], x.indoption::int2[],
       pg_get_expr(x.indexprs, x.indrelid), pg_get_expr(x.indpred, x.indrelid),
       ARRAY(SELECT COALESCE(a.attname, '(expression)')
             FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             ORDER BY k.n),
       EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid),
       pg_relation_size(i.oid), COALESCE(s.idx_scan, 0), pg_get_indexdef(i.oid)
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_am am ON am.oid = i.relam
JOIN pg_namespace ns ON ns.oid = t.relnamespace
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = x.indexrelid
WHERE ns.nspname = ANY(current_schemas(false))
ORDER BY t.relname, i.relname
"""
_SCANS = "SELECT schemaname, indexrelname, idx_scan FROM pg_stat_user_indexes"
#: django-dbopt's own tables: their indexes serve its periodic maintenance, rarely run
OWN_TABLES = "dbopt_"
_RESET = "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"


@dataclass
class Index:
    schema: str
    table: str
    name: str
    method: str
    unique: bool
    primary: bool
    valid: bool
    key_count: int
    attnums: list[int]
    opclasses: list[int]
    collations: list[int]
    options: list[int]
    expressions: str | None
    predicate: str | None
    columns: list[str]
    backs_constraint: bool
    size_bytes: int
    scans: int
    definition: str

    @property
    def keys(self) -> list[tuple[int, int, int, int]]:
        """(attnum, operator class, collation, sort option) of each key column."""
        return list(
            zip(
                self.attnums[: self.key_count],
                self.opclasses,
                self.collations,
                self.options,
                strict=False,
            )
        )


def _run(using: str, sql: str) -> list[tuple[Any, ...]]:
    token = suppressed.set(True)
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        suppressed.reset(token)


def indexes(using: str) -> list[Index]:
    return [Index(*row) for row in _run(using, _INDEXES)]


def covered_by(a: Index, b: Index) -> bool:
    """Whether index ``b`` serves every lookup ``a`` serves (so ``a`` is redundant)."""
    if a is b or a.table != b.table or a.schema != b.schema or a.method != b.method:
        return False
    if not (a.valid and b.valid) or a.predicate != b.predicate:
        return False
    if a.expressions != b.expressions:
        return False
    if a.unique or a.primary or a.backs_constraint:
        return False  # it enforces something; never call it redundant
    if not set(a.attnums[a.key_count :]) <= set(b.attnums):
        return False  # b lacks columns a INCLUDEs for index-only scans
    a_keys, b_keys = a.keys, b.keys
    if a.method == "btree":
        if b_keys[: len(a_keys)] != a_keys:
            return False
    elif a_keys != b_keys:
        return False
    if a_keys == b_keys and len(a.attnums) == len(b.attnums):
        return a.name > b.name or b.unique  # exact twins: report one of the two
    return True


def duplicate_indexes(using: str) -> list[dict[str, Any]]:
    found = indexes(using)
    out = []
    for a in found:
        cover = next((b for b in found if covered_by(a, b)), None)
        if cover is not None:
            out.append(
                {
                    "table": a.table,
                    "index": a.name,
                    "columns": a.columns,
                    "definition": a.definition,
                    "covered_by": cover.name,
                    "covered_by_definition": cover.definition,
                    "size_bytes": a.size_bytes,
                }
            )
    return out


def unused_indexes(using: str, replicas: list[str] | None = None) -> dict[str, Any]:
    """``{"indexes": [...], "databases": [{alias, stats_reset, error}], "complete": bool}``.

    ``replicas`` defaults to the configured replicas of ``using``.
    """
    found = indexes(using)
    scans = {(i.schema, i.name): i.scans for i in found}
    databases = [{"alias": using, "stats_reset": _reset(using), "error": None}]
    for alias in replicas if replicas is not None else list(replicas_of(using)):
        entry: dict[str, Any] = {"alias": alias, "stats_reset": None, "error": None}
        try:
            for schema, name, count in _run(alias, _SCANS):
                if (schema, name) in scans:
                    scans[(schema, name)] += int(count or 0)
            entry["stats_reset"] = _reset(alias)
        except DatabaseError as e:
            entry["error"] = f"{type(e).__name__}: {str(e).strip()[:200]}"
        databases.append(entry)
    unused = [
        {
            "table": i.table,
            "index": i.name,
            "columns": i.columns,
            "definition": i.definition,
            "size_bytes": i.size_bytes,
        }
        for i in found
        if scans[(i.schema, i.name)] == 0
        and i.valid
        and not (i.unique or i.primary or i.backs_constraint)
        and not i.table.startswith(OWN_TABLES)
    ]
    return {
        "indexes": unused,
        "databases": databases,
        "complete": all(d["error"] is None for d in databases),
    }


def _reset(using: str) -> Any:
    rows = _run(using, _RESET)
    return rows[0][0] if rows else None


def hypopg_status(using: str) -> dict[str, Any]:
    """Whether HypoPG is installed in the database, available to install, or missing."""
    rows = _run(
        using,
        "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'hypopg'), "
        "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'), "
        "current_setting('server_version_num')::int / 10000",
    )
    installed, available, major = rows[0]
    return {
        "installed": installed is not None,
        "version": installed,
        "available": bool(available),
        "package": f"postgresql-{major}-hypopg",
    }

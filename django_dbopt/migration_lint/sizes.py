"""Live table sizes from PostgreSQL's catalog, to weight findings by what they lock."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.backends.base.base import BaseDatabaseWrapper

_SIZES = """
SELECT t.name, c.reltuples, pg_total_relation_size(c.oid)
FROM unnest(%s::text[]) AS t(name)
JOIN pg_class c ON c.oid = to_regclass(quote_ident(t.name))
"""


@dataclass(frozen=True)
class TableSize:
    #: the planner's estimate (``pg_class.reltuples``); ``None`` if never analysed
    rows: int | None
    bytes: int

    def is_big(self, rows: int, bytes_: int) -> bool:
        return (self.rows is not None and self.rows >= rows) or self.bytes >= bytes_


def table_sizes(connection: BaseDatabaseWrapper, tables: set[str]) -> dict[str, TableSize]:
    """Size of each of ``tables`` that exists on ``connection`` (on its search_path)."""
    if not tables:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_SIZES, [sorted(tables)])
        return {
            name: TableSize(int(rows) if rows >= 0 else None, int(size))
            for name, rows, size in cursor.fetchall()
        }

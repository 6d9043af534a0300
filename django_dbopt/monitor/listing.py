"""The queries page's table: filters, sorting by any column, and which rows are noise.

By default the table hides two kinds of rows a newcomer does not want ranked with their
application's queries:

- django-dbopt's own queries: the router's and health checks' WAL and recovery
  functions, its own tables (``dbopt_*``), and requests to its health, metrics and
  admin pages;
- migrations and management commands (views named ``command:<name>``: migrate, seeding,
  shell scripts).

Both can be shown again with a filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

OWN_SQL = re.compile(
    r"\b(pg_current_wal_lsn|pg_last_wal_replay_lsn|pg_last_wal_receive_lsn|pg_is_in_recovery|"
    r"pg_wal_lsn_diff|pg_walfile_name|pg_last_xact_replay_timestamp|pg_stat_\w+|"
    r"pg_advisory_\w+|hypopg\w*)\b|\"?dbopt_\w+\"?",
    re.IGNORECASE,
)
OWN_VIEWS = ("django_dbopt:", "admin:dbopt_", "admin:django_dbopt_", "task:django_dbopt.")

#: column key -> (header with its unit, sorted descending first)
COLUMNS: dict[str, str] = {
    "fingerprint": "Fingerprint",
    "sql": "SQL",
    "alias": "Database",
    "calls": "Calls (count)",
    "total_ms": "Total (ms)",
    "mean_ms": "Mean (ms)",
    "p50_ms": "P50 (ms)",
    "p95_ms": "P95 (ms)",
    "p99_ms": "P99 (ms)",
    "max_ms": "Max (ms)",
    "slow": "Slow (count)",
}
TEXT_COLUMNS = ("fingerprint", "sql", "alias")
PER_PAGE = 50


def is_own_view(view: str) -> bool:
    return view.startswith(OWN_VIEWS)


def is_command_view(view: str) -> bool:
    return view.startswith("command:")


def is_own_sql(sql: str) -> bool:
    return OWN_SQL.search(sql) is not None


@dataclass
class Filters:
    view: str | None = None
    database: str | None = None
    include_own: bool = False
    include_commands: bool = False
    sort: str = "total_ms"
    descending: bool = True

    @classmethod
    def from_query(cls, query: QueryDict) -> Filters:
        order = query.get("o", "-total_ms")
        descending = order.startswith("-")
        sort = order.lstrip("-")
        if sort not in COLUMNS:
            sort, descending = "total_ms", True
        return cls(
            view=query.get("view") or None,
            database=query.get("database") or None,
            include_own=query.get("own") == "1",
            include_commands=query.get("commands") == "1",
            sort=sort,
            descending=descending,
        )

    def keeps_view(self, view: str) -> bool:
        if self.view is not None:
            return view == self.view
        if not self.include_own and is_own_view(view):
            return False
        return self.include_commands or not is_command_view(view)

    def keeps_row(self, row: dict[str, Any]) -> bool:
        if self.database is not None and row["alias"] != self.database:
            return False
        return self.include_own or not is_own_sql(row["sql"])


def apply(rows: list[dict[str, Any]], filters: Filters) -> list[dict[str, Any]]:
    """Rows kept by the filters, sorted (rows with no data for the column last)."""
    kept = [r for r in rows if filters.keeps_row(r)]
    key = filters.sort
    present = [r for r in kept if r.get(key) is not None]
    missing = [r for r in kept if r.get(key) is None]
    if key in TEXT_COLUMNS:
        present.sort(key=lambda r: str(r[key]).lower(), reverse=filters.descending)
    else:
        present.sort(key=lambda r: float(r[key]), reverse=filters.descending)
    return present + missing


def headers(filters: Filters, query: QueryDict) -> list[dict[str, Any]]:
    """Each column's header: its label with the unit and the link that sorts by it."""
    out = []
    for key, label in COLUMNS.items():
        if key == filters.sort:
            order = key if filters.descending else f"-{key}"
        else:
            order = key if key in TEXT_COLUMNS else f"-{key}"
        params = query.copy()
        params["o"] = order
        params.pop("page", None)
        out.append(
            {
                "key": key,
                "label": label,
                "url": "?" + params.urlencode(),
                "sorted": key == filters.sort,
                "descending": filters.descending,
            }
        )
    return out

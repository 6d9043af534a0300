"""What one attempt at a migration ran: an execute wrapper on the run's connection.

It tells the runner whether a non-atomic migration had already committed something when
it failed (then it is never retried), which statement failed or was interrupted (the
index a failed ``CREATE INDEX CONCURRENTLY`` left is named there), and how long a reader
queued behind the attempt's locks could have waited.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError

from django_dbopt.migration_lint import statements

#: statements that change nothing: session settings, Django's migration bookkeeping and
#: introspection of the catalog. Anything else a non-atomic migration ran has committed.
_BOOKKEEPING = re.compile(
    r"\s*(?:(?:SET|SHOW|RESET)\b|SELECT\s+(?:set_config|current_setting)\s*\("
    r"|SELECT\b(?=.*\b(?:pg_catalog|information_schema)\.)"
    r"|(?=.*\bdjango_migrations\b))",
    re.IGNORECASE | re.DOTALL,
)


#: statements that block neither reads nor writes while they wait or run
_CONCURRENT = re.compile(
    r"\s*(?:CREATE\s+(?:UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX\b.*?)\s+CONCURRENTLY\b",
    re.IGNORECASE | re.DOTALL,
)


def short(sql: str, limit: int = 120) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= limit else sql[: limit - 3] + "..."


class AttemptTracker:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        #: statements of the migration that completed (not bookkeeping)
        self.completed: list[str] = []
        #: the statement running now, or the last one that raised
        self.current: str | None = None
        self.failed: str | None = None
        self.first_start: float | None = None
        self.recorded_at: float | None = None
        self.longest_s = 0.0

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        bookkeeping = _BOOKKEEPING.match(sql) is not None
        started = time.monotonic()
        if not bookkeeping and self.first_start is None:
            self.first_start = started
        self.current = sql
        try:
            result = execute(sql, params, many, context)
        except DatabaseError:
            self.failed = sql
            if not _CONCURRENT.match(sql):
                self.longest_s = max(self.longest_s, time.monotonic() - started)
            raise
        ended = time.monotonic()
        self.current = None
        if not bookkeeping:
            self.completed.append(sql)
            if not _CONCURRENT.match(sql):
                self.longest_s = max(self.longest_s, ended - started)
        elif self.first_start is not None and sql.lstrip()[:6].upper() == "INSERT":
            self.recorded_at = ended  # the migration's row in django_migrations
        return result

    def reader_wait_s(self, atomic: bool, ended: float) -> float:
        """The longest a reader queued behind this attempt's locks could have waited:
        an atomic migration holds its locks until its transaction ends; a non-atomic one
        holds each only for its statement, and a CONCURRENTLY one blocks no reader."""
        if atomic and self.first_start is not None:
            return (self.recorded_at or ended) - self.first_start
        return self.longest_s

    def concurrent_builds(self) -> list[tuple[str, str]]:
        """``(index, table)`` the failed or interrupted statement built concurrently."""
        sql = self.failed or self.current
        if sql is None:
            return []
        return [
            (action.detail, action.table or "")
            for action in statements.parse([sql])
            if action.kind == "create_index" and action.concurrent and action.detail
        ]

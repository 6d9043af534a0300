"""What protects a ``dbopt_migrate`` run on PostgreSQL.

- ``refuse_standby()``: migrations run on a primary only (``pg_is_in_recovery()``);
- ``advisory_lock()``: a session advisory lock, so two runs on one database never overlap
  (the second fails at once, naming the holder);
- ``SessionTimeouts``: ``lock_timeout`` / ``statement_timeout`` on every statement,
  set again if the connection is re-opened during the run, reset afterwards; the lock
  timeout can change between attempts;
- ``index_states()`` / ``drop_indexes()``: find and drop the INVALID index a failed or
  interrupted ``CREATE INDEX CONCURRENTLY`` leaves behind, never one still being built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

from django_dbopt.exceptions import DbOptError

logger = logging.getLogger(__name__)

#: the advisory lock key (``pg_try_advisory_lock(bigint)``); advisory locks are per
#: database, so runs on different databases of one server do not exclude each other
ADVISORY_LOCK_KEY = 0x64626F70745F6D67  # "dbopt_mg"


class MigrationLocked(DbOptError):
    """Another ``dbopt_migrate`` run holds the advisory lock."""


class StandbyRefused(DbOptError):
    """The alias is a standby: nothing can be migrated there."""


def refuse_standby(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        (in_recovery,) = cursor.fetchone()
    if in_recovery:
        raise StandbyRefused(
            f"Database {connection.alias!r} is a standby (in recovery: pg_is_in_recovery() "
            "is true): migrations run on the primary only. Use the primary's alias."
        )


@contextmanager
def advisory_lock(connection: BaseDatabaseWrapper) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        (acquired,) = cursor.fetchone()
        if not acquired:
            cursor.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = "
                "current_database()) AND ((classid::bigint << 32) | objid::bigint) = %s",
                [ADVISORY_LOCK_KEY],
            )
            holders = [str(pid) for (pid,) in cursor.fetchall()]
            raise MigrationLocked(
                "Another dbopt_migrate run holds the migration lock on this database "
                f"(server process {', '.join(holders) or 'unknown'}); try again when it ends."
            )
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        except DatabaseError as e:  # the session ended: its lock went with it
            logger.warning("dbopt_migrate: could not release the advisory lock: %s", e)


def _set_timeouts(cursor: Any, lock_ms: int | str, statement_ms: int | str) -> None:
    cursor.execute(
        "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
        [str(lock_ms), str(statement_ms)],
    )


class SessionTimeouts:
    """Every statement on ``connection`` runs with these timeouts (0: none) meanwhile;
    ``set_lock_timeout()`` changes the lock timeout for the statements that follow."""

    def __init__(self, connection: BaseDatabaseWrapper, lock_ms: int, statement_ms: int) -> None:
        self.connection = connection
        self.lock_ms = lock_ms
        self.statement_ms = statement_ms
        self._applied_to: Any = None

    def set_lock_timeout(self, lock_ms: int) -> None:
        self.lock_ms = lock_ms
        with self.connection.cursor() as cursor:
            _set_timeouts(cursor, self.lock_ms, self.statement_ms)
        self._applied_to = self.connection.connection

    def _wrapper(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        raw = self.connection.connection
        if raw is not None and raw is not self._applied_to:
            # a new session (re-opened connection): its settings are the server's defaults
            _set_timeouts(context["cursor"].cursor, self.lock_ms, self.statement_ms)
            self._applied_to = raw
        return execute(sql, params, many, context)

    @contextmanager
    def applied(self) -> Iterator[SessionTimeouts]:
        self.set_lock_timeout(self.lock_ms)
        try:
            with self.connection.execute_wrapper(self._wrapper):
                yield self
        finally:
            connection = self.connection
            if connection.connection is not None and not connection.needs_rollback:
                with connection.cursor() as cursor:
                    cursor.execute("RESET lock_timeout")
                    cursor.execute("RESET statement_timeout")


@contextmanager
def session_timeouts(
    connection: BaseDatabaseWrapper, lock_ms: int, statement_ms: int
) -> Iterator[SessionTimeouts]:
    """Every statement on ``connection`` runs with these timeouts (0: none) meanwhile."""
    with SessionTimeouts(connection, lock_ms, statement_ms).applied() as timeouts:
        yield timeouts


@dataclass(frozen=True)
class IndexState:
    #: ``quote_ident(schema).quote_ident(name)``
    qualified: str
    table: str
    valid: bool
    #: a ``CREATE INDEX CONCURRENTLY`` / ``REINDEX`` of it is running in some session
    in_progress: bool


_STATE = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), t.relname, i.indisvalid,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = c.oid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = i.indrelid
WHERE c.oid = to_regclass(%s)
"""


def index_states(connection: BaseDatabaseWrapper, names: list[str]) -> dict[str, IndexState]:
    """The indexes named (unquoted names, found on the ``search_path``) that exist."""
    states = {}
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(_STATE, ['"' + name.replace('"', '""') + '"'])
            row = cursor.fetchone()
            if row is not None:
                states[name] = IndexState(*row)
    return states


def droppable_invalid(connection: BaseDatabaseWrapper, builds: list[tuple[str, str]]) -> list[str]:
    """Of ``builds`` (``(index, table)``), the INVALID indexes on that table that no
    session is building: qualified names."""
    states = index_states(connection, [name for name, _ in builds])
    return [
        state.qualified
        for name, table in builds
        if (state := states.get(name)) is not None
        and state.table == table
        and not state.valid
        and not state.in_progress
    ]


def drop_indexes(connection: BaseDatabaseWrapper, names: list[str], timeout_s: float) -> list[str]:
    """Drop ``names`` with ``DROP INDEX CONCURRENTLY`` (no reads or writes blocked),
    waiting at most ``timeout_s`` for older transactions; returns those still there."""
    left = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
        )
        before = cursor.fetchone()
        wait_ms = int(timeout_s * 1000)
        _set_timeouts(cursor, wait_ms, wait_ms)
        try:
            for name in names:
                try:
                    # names come from the catalog, quoted by quote_ident()
                    cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
                except DatabaseError as e:
                    logger.error("dbopt_migrate: could not drop invalid index %s: %s", name, e)
                    left.append(name)
        finally:
            _set_timeouts(cursor, *before)
    return left

"""What protects a ``dbopt_migrate`` run on PostgreSQL.

- ``advisory_lock()``: a session advisory lock, so two runs on one database never overlap
  (the second fails at once, naming the holder);
- ``session_timeouts()``: ``lock_timeout`` / ``statement_timeout`` on every statement,
  set again if the connection is re-opened during the run, reset afterwards;
- ``invalid_indexes()`` / ``drop_indexes()``: find and drop the INVALID index a failed
  ``CREATE INDEX CONCURRENTLY`` leaves behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def session_timeouts(
    connection: BaseDatabaseWrapper, lock_ms: int, statement_ms: int
) -> Iterator[None]:
    """Every statement on ``connection`` runs with these timeouts (0: none) meanwhile."""
    applied_to: list[Any] = [None]

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        raw = connection.connection
        if raw is not None and raw is not applied_to[0]:
            # a new session (re-opened connection): its settings are the server's defaults
            _set_timeouts(context["cursor"].cursor, lock_ms, statement_ms)
            applied_to[0] = raw
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        _set_timeouts(cursor, lock_ms, statement_ms)
    applied_to[0] = connection.connection
    try:
        with connection.execute_wrapper(wrapper):
            yield
    finally:
        if connection.connection is not None and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
                cursor.execute("RESET statement_timeout")


_INVALID = """
SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid
"""


def invalid_indexes(connection: BaseDatabaseWrapper) -> dict[int, str]:
    """Every INVALID index of the database: ``{oid: qualified name}``."""
    with connection.cursor() as cursor:
        cursor.execute(_INVALID)
        return {oid: name for oid, name in cursor.fetchall()}


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

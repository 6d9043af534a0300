"""The routing execute wrapper (installed on ``connection_created``) and WAL positions.

On a primary it notices writes: the scope's later reads go to the primary, and once the
write is committed (at once in autocommit, else through ``transaction.on_commit``) the
primary is marked *dirty* for the scope. ``flush_positions()`` then reads
``pg_current_wal_lsn()`` on the primary, after the commits, once per scope and primary,
when the position is about to be handed on (the response cookie, a Celery task header).

On a replica it turns a failed read outside a transaction into a read on the primary and
takes the replica out of rotation, so a replica that dies between two probes fails no
read; and it puts each read under the watchdog (``watchdog.py``), which cuts a read
whose server stopped answering, so a replica that hangs hangs no read either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from django_dbopt.conf import get_config
from django_dbopt.routing import counters
from django_dbopt.routing.events import first_line
from django_dbopt.routing.health import monitor
from django_dbopt.routing.scope import Scope, current_scope
from django_dbopt.routing.tokens import UNREACHABLE_LSN, Position, parse_lsn
from django_dbopt.routing.watchdog import Read, watchdog
from django_dbopt.sqlkind import statement_kind
from django_dbopt.topology import replica_map
from django_dbopt.wrappers import install_first, install_on_open

logger = logging.getLogger("django_dbopt.routing")

_roles_cache: tuple[dict[str, dict[str, float]] | None, dict[str, str | None]] = (None, {})


def _roles() -> dict[str, str | None]:
    """alias -> its primary for replicas, None for primaries with replicas."""
    global _roles_cache
    replicas = replica_map()  # {} while DBOPT is broken: then nothing is routed
    if _roles_cache[0] is not replicas:
        roles: dict[str, str | None] = {}
        for primary, members in replicas.items():
            roles[primary] = None
            roles.update(dict.fromkeys(members, primary))
        _roles_cache = (replicas, roles)
    return _roles_cache[1]


class _MarkCommitted:
    """``on_commit`` hook: the scope's transaction on ``primary`` committed."""

    def __init__(self, scope: Scope, primary: str) -> None:
        self.scope, self.primary = scope, primary

    def __call__(self) -> None:
        self.scope.dirty.add(self.primary)


def routing_wrapper(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    conn: BaseDatabaseWrapper = context["connection"]
    roles = _roles()
    if conn.alias not in roles:
        return execute(sql, params, many, context)
    primary = roles[conn.alias]
    if primary is not None:
        return _on_replica(execute, sql, params, many, context, conn, primary)
    result = execute(sql, params, many, context)
    scope = current_scope.get()
    if scope is not None and statement_kind(sql) == "write":
        scope.wrote.add(conn.alias)
        if not conn.in_atomic_block:
            scope.dirty.add(conn.alias)
        elif not any(isinstance(entry[1], _MarkCommitted) for entry in conn.run_on_commit):
            transaction.on_commit(_MarkCommitted(scope, conn.alias), using=conn.alias)
    return result


def _on_replica(
    execute: Callable[..., Any],
    sql: str,
    params: Any,
    many: bool,
    context: dict[str, Any],
    conn: BaseDatabaseWrapper,
    primary: str,
) -> Any:
    read = _watch(conn)
    try:
        try:
            return execute(sql, params, many, context)
        finally:  # before the socket can be closed and its number reused
            if read is not None:
                watchdog.done(read)
    except (OperationalError, InterfaceError) as e:
        hung = read is not None and read.cut
        if conn.in_atomic_block or many or statement_kind(sql) != "read":
            if hung:
                monitor.report_failure(conn.alias, _hung_message(read), hung=True)
            raise
        error = _hung_message(read) if hung else first_line(e)
        monitor.report_failure(conn.alias, error, hung=hung)
        logger.warning(
            "a read failed on replica %s (%s); running it on %s", conn.alias, error, primary
        )
        counters.add("replica-failed")
        conn.close()  # broken; the next read on this thread reconnects once it is back
        fresh = connections[primary].cursor()
        fresh.execute(sql, params)
        # The caller fetches from its own cursor wrapper: hand it the primary's cursor.
        context["cursor"].cursor = fresh.cursor
        return None


def _watch(conn: BaseDatabaseWrapper) -> Read | None:
    """Put this read under the watchdog (``READ_TIMEOUT_S``; None when off)."""
    try:
        limit = get_config().routing.read_timeout_s
    except ImproperlyConfigured:
        return None
    raw = conn.connection
    if not limit or raw is None:
        return None
    try:
        fd = raw.pgconn.socket
    except (AttributeError, psycopg.Error):  # closed, or not a psycopg 3 connection
        return None
    return watchdog.watch(conn.alias, fd, limit)


def _hung_message(read: Read | None) -> str:
    limit = read.limit if read is not None else 0.0
    return f"no sign of life within {2 * limit:g}s (READ_TIMEOUT_S): read cut"


_POSITION_SQL = (
    "SELECT pg_current_wal_lsn()::text, pg_walfile_name(pg_current_wal_lsn()), "
    "(SELECT system_identifier::text FROM pg_control_system())"
)


def flush_positions(scope: Scope) -> None:
    """Record the WAL position of every primary this scope committed writes to."""
    while scope.dirty:
        primary = scope.dirty.pop()
        try:
            with connections[primary].cursor() as cursor:
                cursor.execute(_POSITION_SQL)
                lsn_text, walfile, system_id = cursor.fetchone()
            position = Position(parse_lsn(lsn_text), system_id, int(walfile[:8], 16))
            scope.record(primary, position)
        except DatabaseError as e:
            # Unknown position: no replica can satisfy it, so the client reads from the
            # primary until the token expires (safe, and logged).
            logger.warning("could not read %s's WAL position after a write: %s", primary, e)
            scope.record(primary, Position(UNREACHABLE_LSN, None, None))


def install_on_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver (``routing.wiring``)."""
    # Without replicas the wrapper would pass every query through: leave it out.
    if connection.vendor == "postgresql" and replica_map():
        install_first(connection, "routing", routing_wrapper)


def resync(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: replicas configured, wrap the connections already open."""
    if setting == "DBOPT" and replica_map():
        install_on_open(install_on_connection)

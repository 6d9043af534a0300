"""Invalidation on every write path, transaction-aware.

One mechanism sees them all: an execute wrapper installed on every new connection
(``connection_created``) looks at each statement it runs. A statement that is not a
plain read (``sqlkind``: INSERT/UPDATE/DELETE/MERGE, TRUNCATE from ``flush``, DDL from
migrations, raw SQL) bumps the generations of the opted-in tables it names; a write that
names no known table (``CALL``, ``DO``) bumps every opted-in table. That covers
``save()``, ``delete()``, ``update()``, ``bulk_create()``, ``bulk_update()``, m2m
``add``/``remove``/``clear``/``set``, raw ``cursor.execute()``, migrations and flush.

Inside a transaction the tables are bumped right after the write *and* again after
commit (``on_commit``), so an entry computed from pre-commit data while the transaction
was open is never addressed once it committed. The bump that follows a commit (the
after-commit one, or the only one of an autocommit write) is acknowledged: it returns
once every process holding an L1 lease has applied it (``leases.py``). On rollback the
after-commit bump is dropped with the other ``on_commit`` callbacks: nothing is
published. Until the transaction ends, its reads are not cached (they may see its own
uncommitted rows).

Session state that changes what a query returns (``search_path`` for schema-per-tenant,
the role and custom settings that row-level security policies read) is in no cache key.
So the same wrapper marks the DB-API connection (which a pool may hand to the next
request as it is) as *non-default* when a statement may change it (``changes_session``):
``SET``/``RESET`` of anything but timeouts and planner settings, ``DISCARD``, ``DO`` and
``CALL`` (whose bodies may), or ``set_config(...)`` of such a setting. Reads on a marked
connection are neither served from nor stored in the cache, for the rest of that
connection's life (docs/cache.md, "Trust model").
"""

from __future__ import annotations

import functools
import logging
import re
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from django_dbopt.cache import generations
from django_dbopt.cache.plans import orm_state
from django_dbopt.cache.tables import tables_in, tracked_tables
from django_dbopt.conf import get_config
from django_dbopt.sqlkind import statement_kind
from django_dbopt.wrappers import install_first, install_on_open

logger = logging.getLogger("django_dbopt.cache")


class _AfterCommit:
    """The on_commit callback of one transaction: bumps every table it wrote."""

    def __init__(self) -> None:
        self.tables: set[str] = set()

    def __call__(self) -> None:
        invalidate_tables(self.tables)


def _pending_marker(connection: BaseDatabaseWrapper) -> _AfterCommit | None:
    """This transaction's marker, if it is still registered (it is dropped on rollback)."""
    marker: _AfterCommit | None = getattr(connection, "_dbopt_after_commit", None)
    if marker is None:
        return None
    for entry in connection.run_on_commit:
        if entry[1] is marker:
            return marker
    return None


def wrote_in_transaction(connection: BaseDatabaseWrapper) -> bool:
    return connection.in_atomic_block and _pending_marker(connection) is not None


def snapshot_transaction(connection: BaseDatabaseWrapper) -> bool:
    """In a transaction whose reads may see an older snapshot than the latest commit
    (anything but PostgreSQL's READ COMMITTED, e.g. REPEATABLE READ or SQLite): such a
    read stored under current generations could be stale, so it is not cached."""
    if not connection.in_atomic_block:
        return False
    if connection.vendor != "postgresql":
        return True
    level = getattr(getattr(connection, "isolation_level", None), "name", "READ_COMMITTED")
    return level not in ("READ_COMMITTED", "READ_UNCOMMITTED")  # PG runs the latter as the former


#: attribute set on a DB-API connection whose session state may not be the default
SESSION_MARK = "_dbopt_session_changed"
#: DB-API connections that take no attributes (sqlite3), marked here instead
_marked: weakref.WeakSet[Any] = weakref.WeakSet()
_SESSION_START = re.compile(r"\s*(?:\(\s*)*(SET|RESET|DISCARD|DO|CALL)\b", re.I)
#: ``SET [SESSION|LOCAL] name {=|TO} value`` and ``SET TRANSACTION ...``, one statement
_SET = re.compile(
    r"\s*SET\s+(?:(?:SESSION|LOCAL)\s+)?(?:TRANSACTION\s+(?P<tx>[^;]*?)"
    r"|CONSTRAINTS\s+(?P<constraints>[^;]*?)"
    r"|(?P<name>[A-Za-z_][\w.]*)\s*(?:=|\bTO\b)[^;]*?)\s*;?\s*$",
    re.I | re.S,
)
_RESET = re.compile(r"\s*RESET\s+(?P<name>[A-Za-z_][\w.]*)\s*;?\s*$", re.I)
_READ_ONLY_OR_WRITE = re.compile(r"READ\s+(?:ONLY|WRITE)", re.I)
_SET_CONFIG = re.compile(r"\bset_config\s*\(\s*(?:'([^']*)')?", re.I)
#: settings that change how long or how a query runs, never what it returns: setting them
#: (health checks, EXPLAIN, migrations do) keeps the connection cacheable
_HARMLESS = frozenset(
    {
        "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
        "idle_session_timeout", "transaction_timeout", "application_name",
        "plan_cache_mode", "work_mem", "maintenance_work_mem", "temp_buffers",
        "random_page_cost", "seq_page_cost", "cpu_tuple_cost", "cpu_index_tuple_cost",
        "cpu_operator_cost", "effective_cache_size", "jit", "client_min_messages",
        "log_statement", "log_min_duration_statement", "synchronous_commit",
    }
)  # fmt: skip


def _harmless(name: str) -> bool:
    name = name.lower()
    return name in _HARMLESS or name.startswith("enable_")


@functools.lru_cache(maxsize=4096)
def changes_session(sql: str) -> bool:
    """``sql`` may change session state that changes what later queries return: a
    ``SET``/``RESET`` of anything but the timeouts and planner settings of ``_HARMLESS``
    (``search_path``, ``ROLE``, ``SESSION AUTHORIZATION``, custom settings read by
    row-level security, ``TIME ZONE``, an isolation level...), ``DISCARD``, ``DO``,
    ``CALL``, or ``set_config()`` of such a setting (or of one not named literally)."""
    found = _SET.match(sql)
    if found is not None:
        if found["tx"] is not None:
            return _READ_ONLY_OR_WRITE.fullmatch(found["tx"].strip()) is None
        if found["constraints"] is not None:
            return False
        return not _harmless(found["name"])
    found = _RESET.match(sql)
    if found is not None:
        return not _harmless(found["name"])  # RESET ALL: "all" is not harmless
    if _SESSION_START.match(sql) is not None:
        return True
    return any(not (name and _harmless(name)) for name in _SET_CONFIG.findall(sql))


def mark_session_changed(connection: BaseDatabaseWrapper) -> None:
    """Reads on this connection's current DB-API connection are not cached any more."""
    raw = connection.connection
    if raw is None:
        return
    try:
        setattr(raw, SESSION_MARK, True)
    except AttributeError:  # sqlite3 connections take no attributes
        _marked.add(raw)


def session_changed(connection: BaseDatabaseWrapper) -> bool:
    """The connection may hold non-default session state (``search_path``, role, RLS
    settings): reads on it must not be served from, nor stored in, the cache."""
    raw = connection.connection
    if raw is None:
        return False
    if getattr(raw, SESSION_MARK, False):
        return True
    return bool(_marked) and raw in _marked


def uncacheable_now(connection: BaseDatabaseWrapper) -> bool:
    if connection.in_atomic_block and (
        _pending_marker(connection) is not None or snapshot_transaction(connection)
    ):
        return True
    return session_changed(connection)


def invalidate_tables(tables: Iterable[str], *, wait: bool | None = None) -> bool:
    """Bump the generations of ``tables`` in the ORM cache (True if written to Redis);
    ``wait``: for every L1 lease holder to apply it (default: the cache's
    ``ACK_INVALIDATIONS``)."""
    st = orm_state()
    wanted = list(tables)
    if st is None or not wanted:
        return True
    return generations.bump(st, generations.gen_keys(st, tables=wanted), wait=wait)


def written_tables(sql: str) -> frozenset[str]:
    """Tracked tables a non-read statement may change (all of them if none is named)."""
    opted = tracked_tables()
    named = tables_in(sql)
    return (named & opted) if named else opted


def invalidate_for_statement(connection: BaseDatabaseWrapper, sql: str) -> None:
    if orm_state() is None:
        return
    tables = written_tables(sql)
    if not tables:
        return
    # in a transaction, nothing is visible to others before the commit: the after-commit
    # bump is the one to wait for
    invalidate_tables(tables, wait=False if connection.in_atomic_block else None)
    if connection.in_atomic_block:
        marker = _pending_marker(connection)
        if marker is None:
            marker = _AfterCommit()
            connection._dbopt_after_commit = marker  # type: ignore[attr-defined]
            transaction.on_commit(marker, using=connection.alias)
        marker.tables |= tables


def execute_wrapper(
    connection: BaseDatabaseWrapper,
) -> Callable[[Callable[..., Any], str, Any, bool, dict[str, Any]], Any]:
    def wrapper(
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,  # noqa: FBT001, RUF100  (Django's execute_wrapper protocol)
        context: dict[str, Any],
    ) -> Any:
        if sql.__class__ is not str or changes_session(sql):
            mark_session_changed(connection)  # before: it may fail after changing state
        result = execute(sql, params, many, context)
        if statement_kind(sql) == "write":
            invalidate_for_statement(connection, sql)
        return result

    return wrapper


def tracking_wanted() -> bool:
    """Whether writes may need invalidating: ``ORM_MODELS`` or ``TRACK_MODELS`` names
    something (else the wrapper would pass every statement through)."""
    try:
        cache = get_config().cache
    except ImproperlyConfigured:
        return False
    return bool(cache.orm_models or cache.track_models)


def install_on_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: add the write-detecting execute wrapper once, when
    some model's writes are tracked."""
    if tracking_wanted():
        install_first(connection, "cache", execute_wrapper(connection))


def resync(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: tracking turned on, wrap the connections already open."""
    if setting == "DBOPT" and tracking_wanted():
        install_on_open(install_on_connection)

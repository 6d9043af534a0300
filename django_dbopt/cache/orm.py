"""Automatic ORM result caching, hooked in at ``SQLCompiler.execute_sql``.

Why there: it is the one method every ORM read goes through, after the query is built
and before the database is asked, and its return value (the raw rows, before model
instances or converters) is plain data that pickles. ``patches.py`` wraps the method
(only while ``ORM_MODELS`` names something, so an app that does not use ORM caching pays
nothing per query) and calls ``execute_sql`` here, which decides in a few attribute
checks whether a call is cacheable and otherwise calls the original unchanged:

- only ``MULTI``/``SINGLE`` results, never ``iterator()`` (``chunked_fetch``), never the
  insert/update/delete compilers, never ``select_for_update()``;
- only plain reads (``sqlkind``) with no volatile function, whose every table is opted in
  through ``DBOPT['CACHE']['ORM_MODELS']``;
- not inside a transaction that has written (``writes.py`` tracks that), nor inside one
  whose snapshot may be older than the latest commit (REPEATABLE READ, SQLite);
- not while an invalidation could not be written (``generations.writable``).

The key is a hash of the SQL, its parameters, the result type and the *cluster*
(``topology.primary_of``: a primary and its replicas share entries), followed by the
generations of every table read. The SQL is compiled once: the wrapper pins the compiled
``(sql, params)`` on the compiler while the original runs. See docs/cache.md.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db.models.sql import compiler
from django.db.models.sql.constants import MULTI, SINGLE

from django_dbopt.cache import generations
from django_dbopt.cache.keyed import through_cache
from django_dbopt.cache.plans import Resolver, bypass, resolve
from django_dbopt.cache.state import CacheState
from django_dbopt.cache.writes import session_changed, uncacheable_now

#: ``SQLCompiler.execute_sql`` as it was before ``patches.py`` wrapped it
ExecuteSql = Callable[..., Any]
_WRITE_COMPILERS = (
    compiler.SQLInsertCompiler,
    compiler.SQLUpdateCompiler,
    compiler.SQLDeleteCompiler,
)


@dataclass(frozen=True, slots=True)
class _PinnedRead:
    """One read with its SQL compiled: runs the original with that SQL (compiling twice
    costs ~70 µs)."""

    original: ExecuteSql
    compiler: compiler.SQLCompiler
    sql: str
    params: Any
    result_type: str
    chunk_size: int

    def run(self) -> Any:
        query = self.compiler
        sql, params = self.sql, self.params
        query.as_sql = lambda *a, **k: (sql, params)  # type: ignore[method-assign]
        try:
            return self.original(
                query, self.result_type, chunked_fetch=False, chunk_size=self.chunk_size
            )
        finally:
            del query.as_sql


def _passes_through(
    query: compiler.SQLCompiler, resolved: Resolver, result_type: str, *, chunked_fetch: bool
) -> bool:
    """This call is never cached: the original runs unchanged."""
    return (
        not resolved.auto
        or bypass.get()
        or chunked_fetch
        or (result_type != MULTI and result_type != SINGLE)
        or isinstance(query, _WRITE_COMPILERS)
        or query.query.select_for_update
        or uncacheable_now(query.connection)
    )


def execute_sql(
    original: ExecuteSql,
    query: compiler.SQLCompiler,
    result_type: str,
    *,
    chunked_fetch: bool,
    chunk_size: int,
) -> Any:
    """``SQLCompiler.execute_sql`` through the cache (``original``: the method wrapped)."""
    resolved = resolve()
    st = resolved.state
    if st is None or _passes_through(query, resolved, result_type, chunked_fetch=chunked_fetch):
        return original(query, result_type, chunked_fetch, chunk_size)
    try:
        sql, params = query.as_sql()
    except (EmptyResultSet, FullResultSet):  # the original answers these without SQL
        return original(query, result_type, chunked_fetch, chunk_size)
    read = _PinnedRead(original, query, sql, params, result_type, chunk_size)
    plan = resolved.plan(sql) if sql else None
    if plan is None or (st.pending and not generations.writable(st)):
        return read.run()
    alias = query.connection.alias
    cluster = resolved.cluster(alias)
    raw = repr((result_type, cluster, sql, params))
    if " at 0x" in raw:  # a parameter without a stable repr
        return read.run()
    digest = hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()
    return through_cache(
        st,
        plan,
        f"{st.ns}q:{digest}:",
        compute=_computer(st, read),
        decode=st.codec.loads,
        strict=resolved.strict,
        # A replica may lag: rows it returns after a commit's bump could predate the
        # commit, so reads from a replica are served from the cache but never fill it.
        fills=cluster == alias,
    )


def _computer(st: CacheState, read: _PinnedRead) -> Callable[[], tuple[Any, bytes | None]]:
    def compute() -> tuple[Any, bytes | None]:
        result = read.run()
        if session_changed(read.compiler.connection):  # e.g. a pooled connection with a
            return result, None  # tenant's search_path, checked out by this read: keep nothing
        try:
            return result, st.codec.dumps(result)
        except (pickle.PicklingError, TypeError, AttributeError):
            return result, None  # e.g. a memoryview column: not cacheable, not an error

    return compute

"""Automatic ORM result caching, hooked in at ``SQLCompiler.execute_sql``.

Why there: it is the one method every ORM read goes through, after the query is built
and before the database is asked, and its return value (the raw rows, before model
instances or converters) is plain data that pickles. ``install()`` wraps the method once
(idempotent; no I/O), and only while ``ORM_MODELS`` names something (``sync_install``,
from ``AppConfig.ready`` and on every ``DBOPT`` change), so an app that does not use ORM
caching pays nothing per query; the wrapper decides in a few attribute checks whether a
call is cacheable and otherwise calls the original unchanged:

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
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import caches
from django.core.exceptions import EmptyResultSet, FullResultSet, ImproperlyConfigured
from django.core.signals import setting_changed
from django.db.models.sql import compiler
from django.db.models.sql.constants import GET_ITERATOR_CHUNK_SIZE, MULTI, SINGLE
from django.dispatch import receiver

from django_dbopt.cache import generations
from django_dbopt.cache.keyed import through_cache
from django_dbopt.cache.lookups import Lookups
from django_dbopt.cache.state import CacheState
from django_dbopt.cache.tables import clear_memos, configured_tables, is_volatile, tables_in
from django_dbopt.cache.writes import session_changed, uncacheable_now
from django_dbopt.conf import DbOptSettings, get_config
from django_dbopt.sqlkind import is_read
from django_dbopt.topology import primary_of

#: the method we wrap, captured when installing (another library may have wrapped it first)
_original: Any = compiler.SQLCompiler.execute_sql
_WRITE_COMPILERS = (
    compiler.SQLInsertCompiler,
    compiler.SQLUpdateCompiler,
    compiler.SQLDeleteCompiler,
)


@dataclass(frozen=True)
class Plan:
    """What one SQL string needs, computed once per string (per settings)."""

    names: tuple[str, ...]  # tables read, sorted
    keys: list[str]  # their generation keys
    hit_stats: list[str]
    miss_stats: list[str]
    byte_stats: list[str]
    #: whether an L1 miss should look in L2, measured (lookups.py)
    lookups: Lookups = field(compare=False, repr=False)


class _Resolved:
    """Settings-derived lookups, rebuilt when ``DBOPT`` or ``CACHES`` change."""

    def __init__(self, config: DbOptSettings | None, state: CacheState | None) -> None:
        self.config = config
        self.state = state
        self.auto = bool(state is not None and config is not None and config.cache.orm_models)
        self.strict = bool(config is not None and config.cache.orm_strict)
        self.plans: dict[str, Plan | None] = {}
        self.clusters: dict[str, str] = {}
        #: model -> (plan of its pk reads or None, label), for fastpath.py
        self.pk_targets: dict[type[Any], tuple[Plan | None, str]] = {}

    def plan(self, sql: str) -> Plan | None:
        """``None`` when this SQL is never cached (write, volatile, table not opted in)."""
        try:
            return self.plans[sql]
        except KeyError:
            pass
        assert self.state is not None
        tables = tables_in(sql)
        plan = None
        if tables and tables <= configured_tables() and is_read(sql) and not is_volatile(sql):
            names = tuple(sorted(tables))
            plan = Plan(
                names,
                generations.gen_keys(self.state, tables=names),
                [f"table.{t}.hits" for t in names],
                [f"table.{t}.misses" for t in names],
                [f"table.{t}.bytes_served" for t in names],
                self.state.lookups_for(names),
            )
        if len(self.plans) >= MAX_PLANS:
            self.plans.clear()
        self.plans[sql] = plan
        return plan

    def table_plan(self, tables: frozenset[str]) -> Plan:
        """A plan for reads of exactly ``tables`` (the pk fast path)."""
        key = "\0tables:" + ",".join(sorted(tables))
        plan = self.plans.get(key)
        if plan is None:
            assert self.state is not None
            names = tuple(sorted(tables))
            plan = self.plans[key] = Plan(
                names,
                generations.gen_keys(self.state, tables=names),
                [f"table.{t}.hits" for t in names],
                [f"table.{t}.misses" for t in names],
                [f"table.{t}.bytes_served" for t in names],
                self.state.lookups_for(names),
            )
        return plan

    def cluster(self, alias: str) -> str:
        try:
            return self.clusters[alias]
        except KeyError:
            self.clusters[alias] = primary_of(alias)
            return self.clusters[alias]


MAX_PLANS = 5000
#: set while the pk fast path's own miss runs the original get(): no second lookup
bypass: ContextVar[bool] = ContextVar("dbopt_cache_bypass", default=False)
_resolved = _Resolved(None, None)


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    global _resolved
    if setting in ("CACHES", "DBOPT"):
        _resolved = _Resolved(None, None)
        clear_memos()


def resolve() -> _Resolved:
    global _resolved
    config = get_config()
    resolved = _resolved
    if resolved.config is config:
        return resolved
    from django_dbopt.cache.backend import TwoTierCache

    state = None
    if config.cache.orm_models or config.cache.track_models:
        backend = caches[config.cache.cache]
        state = backend.state if isinstance(backend, TwoTierCache) else None
    _resolved = _Resolved(config, state)
    return _resolved


def orm_state() -> CacheState | None:
    """The state of the cache whose table generations writes bump (None: tracking off)."""
    return resolve().state


def execute_sql(
    self: compiler.SQLCompiler,
    result_type: str = MULTI,
    chunked_fetch: bool = False,
    chunk_size: int = GET_ITERATOR_CHUNK_SIZE,
) -> Any:
    resolved = resolve()
    st = resolved.state
    if (
        st is None
        or not resolved.auto
        or bypass.get()
        or chunked_fetch
        or (result_type != MULTI and result_type != SINGLE)
        or isinstance(self, _WRITE_COMPILERS)
        or self.query.select_for_update
        or uncacheable_now(self.connection)
    ):
        return _original(self, result_type, chunked_fetch, chunk_size)
    try:
        sql, params = self.as_sql()
    except (EmptyResultSet, FullResultSet):  # the original answers these without SQL
        return _original(self, result_type, chunked_fetch, chunk_size)
    plan = resolved.plan(sql) if sql else None
    if plan is None or (st.pending and not generations.writable(st)):
        return _pinned(self, sql, params, result_type, chunk_size)
    raw = repr((result_type, resolved.cluster(self.connection.alias), sql, params))
    if " at 0x" in raw:  # a parameter without a stable repr
        return _pinned(self, sql, params, result_type, chunk_size)
    digest = hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()
    # A replica may lag: rows it returns after a commit's bump could predate the commit,
    # so reads from a replica are served from the cache but never fill it.
    fills = resolved.cluster(self.connection.alias) == self.connection.alias
    return _cached(
        self, st, plan, resolved.strict, fills, digest, sql, params, result_type, chunk_size
    )


def _pinned(
    self: compiler.SQLCompiler, sql: str, params: Any, result_type: str, chunk_size: int
) -> Any:
    """Run the original with the SQL already compiled (compiling twice costs ~70 µs)."""
    self.as_sql = lambda *a, **k: (sql, params)  # type: ignore[method-assign]
    try:
        return _original(self, result_type, False, chunk_size)
    finally:
        del self.as_sql


def _cached(
    self: compiler.SQLCompiler,
    st: CacheState,
    plan: Plan,
    strict: bool,
    fills: bool,
    digest: str,
    sql: str,
    params: Any,
    result_type: str,
    chunk_size: int,
) -> Any:
    def compute() -> tuple[Any, bytes | None]:
        result = _pinned(self, sql, params, result_type, chunk_size)
        if session_changed(self.connection):  # e.g. a pooled connection with a tenant's
            return result, None  # search_path, checked out by this read: keep nothing
        try:
            return result, st.codec.dumps(result)
        except (pickle.PicklingError, TypeError, AttributeError):
            return result, None  # e.g. a memoryview column: not cacheable, not an error

    prefix = f"{st.ns}q:{digest}:"
    return through_cache(st, plan, strict, prefix, compute, st.codec.loads, fills)


def wanted() -> bool:
    """Whether ORM caching can be active: ``ORM_MODELS`` names something (a broken
    ``DBOPT`` counts as no: the system checks report it, queries must not fail on it)."""
    try:
        return bool(get_config().cache.orm_models)
    except ImproperlyConfigured:
        return False


def sync_install() -> None:
    """Wrap the ORM only while ORM caching can be active, so that an app without
    ``ORM_MODELS`` pays nothing per query (from ``AppConfig.ready`` and again whenever
    ``DBOPT`` changes, e.g. ``override_settings``)."""
    if wanted():
        install()
    else:
        uninstall()


@receiver(setting_changed)
def _resync(*, setting: str, **kwargs: Any) -> None:
    if setting == "DBOPT":
        sync_install()


def install() -> None:
    """Wrap ``SQLCompiler.execute_sql``, ``QuerySet.get`` and ``QuerySet._fetch_all`` (the
    paths keyed before compilation: ``fastpath.py``, ``listpath.py``; idempotent).
    ORM caching stays off until ``DBOPT['CACHE']['ORM_MODELS']`` names something;
    ``sync_install`` installs only then."""
    from django_dbopt.cache import fastpath, listpath

    fastpath.install()
    listpath.install()
    global _original
    if compiler.SQLCompiler.execute_sql is not execute_sql:
        _original = compiler.SQLCompiler.execute_sql
        compiler.SQLCompiler.execute_sql = execute_sql  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    from django_dbopt.cache import fastpath, listpath

    fastpath.uninstall()
    listpath.uninstall()
    if compiler.SQLCompiler.execute_sql is execute_sql:
        compiler.SQLCompiler.execute_sql = _original  # type: ignore[method-assign]

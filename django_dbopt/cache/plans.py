"""What a cached ORM read needs to know, resolved once per SQL string (per settings).

``resolve()`` returns the ``Resolver`` of the current ``DBOPT`` and ``CACHES``: the
state of the ORM cache (``orm_state()``), whether ORM caching is on, and a memo of
``CachePlan``s (the tables a read depends on, their generation keys and stat names).
The three ORM hooks (``orm.py``, ``fastpath.py``, ``listpath.py``) and the write
tracking (``writes.py``) read it; it imports none of them.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import caches

from django_dbopt.cache import generations
from django_dbopt.cache.lookups import Lookups
from django_dbopt.cache.state import CacheState
from django_dbopt.cache.tables import clear_memos, configured_tables, is_volatile, tables_in
from django_dbopt.conf import DbOptSettings, get_config
from django_dbopt.sqlkind import is_read
from django_dbopt.topology import primary_of

#: plans memoized per settings, at most (then the memo starts over)
MAX_PLANS = 5000
#: set while the pk fast path's own miss runs the original get(): no second lookup
bypass: ContextVar[bool] = ContextVar("dbopt_cache_bypass", default=False)


@dataclass(frozen=True)
class CachePlan:
    """What reads of one set of tables need, computed once per SQL string (per settings)."""

    names: tuple[str, ...]  # tables read, sorted
    keys: list[str]  # their generation keys
    hit_stats: list[str]
    miss_stats: list[str]
    byte_stats: list[str]
    #: whether an L1 miss should look in L2, measured (lookups.py)
    lookups: Lookups = field(compare=False, repr=False)

    @classmethod
    def of(cls, state: CacheState, tables: frozenset[str]) -> CachePlan:
        names = tuple(sorted(tables))
        return cls(
            names,
            generations.gen_keys(state, tables=names),
            [f"table.{t}.hits" for t in names],
            [f"table.{t}.misses" for t in names],
            [f"table.{t}.bytes_served" for t in names],
            state.lookups_for(names),
        )


class Resolver:
    """Settings-derived lookups, rebuilt when ``DBOPT`` or ``CACHES`` change."""

    def __init__(self, config: DbOptSettings | None, state: CacheState | None) -> None:
        self.config = config
        self.state = state
        self.auto = bool(state is not None and config is not None and config.cache.orm_models)
        self.strict = bool(config is not None and config.cache.orm_strict)
        self.plans: dict[str, CachePlan | None] = {}
        self.clusters: dict[str, str] = {}
        #: model -> (plan of its pk reads or None, label), for fastpath.py
        self.pk_targets: dict[type[Any], tuple[CachePlan | None, str]] = {}

    def plan(self, sql: str) -> CachePlan | None:
        """``None`` when this SQL is never cached (write, volatile, table not opted in)."""
        try:
            return self.plans[sql]
        except KeyError:
            pass
        assert self.state is not None
        tables = tables_in(sql)
        plan = None
        if tables and tables <= configured_tables() and is_read(sql) and not is_volatile(sql):
            plan = CachePlan.of(self.state, tables)
        if len(self.plans) >= MAX_PLANS:
            self.plans.clear()
        self.plans[sql] = plan
        return plan

    def table_plan(self, tables: frozenset[str]) -> CachePlan:
        """A plan for reads of exactly ``tables`` (the pk fast path, simple lists)."""
        key = "\0tables:" + ",".join(sorted(tables))
        plan = self.plans.get(key)
        if plan is None:
            assert self.state is not None
            plan = self.plans[key] = CachePlan.of(self.state, tables)
        return plan

    def cluster(self, alias: str) -> str:
        try:
            return self.clusters[alias]
        except KeyError:
            self.clusters[alias] = primary_of(alias)
            return self.clusters[alias]


_resolved = Resolver(None, None)


def forget(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver (``cache.wiring``): resolve again on next use."""
    global _resolved
    if setting in ("CACHES", "DBOPT"):
        _resolved = Resolver(None, None)
        clear_memos()


def resolve() -> Resolver:
    global _resolved
    config = get_config()
    resolved = _resolved
    if resolved.config is config:
        return resolved
    state = None
    if config.cache.orm_models or config.cache.track_models:
        # a TwoTierCache (its ``state``); any other backend: no ORM caching, no tracking
        found = getattr(caches[config.cache.cache], "state", None)
        state = found if isinstance(found, CacheState) else None
    _resolved = Resolver(config, state)
    return _resolved


def orm_state() -> CacheState | None:
    """The state of the cache whose table generations writes bump (None: tracking off)."""
    return resolve().state

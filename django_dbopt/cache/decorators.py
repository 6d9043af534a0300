"""Cache a function's (or a queryset's) result with tags and tables.

::

    @cached(timeout=60, tags=["pricing"], tables=["products"])
    def price_list(currency): ...

    invalidate_tags("pricing")              # O(1): one INCR, one pub/sub message
    rows = cache_queryset(Task.objects.filter(status="todo")[:20], tags=["dashboard"])

The key holds the function's dotted name, a hash of its arguments and the current
generations of its tags and tables (kept in a per-process map that pub/sub keeps
current, so an L1 hit makes no network call). Writes to ``tables`` bump them only when
their models are tracked (``ORM_MODELS`` or ``TRACK_MODELS``); ``cached`` refuses
untracked tables on first call rather than serve stale data.

Stampede protection: on a miss, one caller (across processes) takes a short Redis lock
and computes; the others poll L2 for its result for at most ``STAMPEDE_WAIT_S``, then
compute themselves. When Redis is down the function is simply called.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import QuerySet

from django_dbopt.cache import generations
from django_dbopt.cache.arg_keys import args_digest, digest
from django_dbopt.cache.arg_keys import identity as identity  # public: how arguments are keyed
from django_dbopt.cache.backend import TwoTierCache
from django_dbopt.cache.codec import CodecError
from django_dbopt.cache.l2 import L2Down
from django_dbopt.cache.state import CacheState
from django_dbopt.cache.tables import tables_in, tracked_tables
from django_dbopt.cache.writes import session_changed
from django_dbopt.conf import get_config
from django_dbopt.topology import primary_of

P = ParamSpec("P")
R = TypeVar("R")
POLL_S = 0.01


def _state(alias: str | None) -> tuple[Any, CacheState]:
    name = alias or get_config().cache.cache
    backend = caches[name]
    if not isinstance(backend, TwoTierCache):
        raise ImproperlyConfigured(
            f"CACHES[{name!r}] is not a django_dbopt.cache.TwoTierCache; cached() needs one "
            "(set DBOPT['CACHE']['CACHE'] or pass cache=). (django_dbopt.E030)"
        )
    return backend, backend.state


def _ttl(backend: Any, timeout: Any) -> int | None:
    value = backend.default_timeout if timeout is DEFAULT_TIMEOUT else timeout
    return None if value is None else max(1, int(value))


def lookup_or_compute(
    st: CacheState,
    base: str,
    keys: list[str],
    compute: Callable[[], Any],
    ttl: int | None,
) -> Any:
    """The value at ``base + generations``, from L1, L2, or ``compute()`` (stampede-safe).
    A stored value the codec refuses (not signed, corrupt, too big) is a miss."""
    gens = generations.local(st, keys)
    if gens is not None:
        blob = st.l1.get(base + gens)
        if blob is not None:
            ok, value = _decoded(st, blob)
            if ok:
                st.stats.add("l1.hits")
                return value
        if st.local:  # L1-only mode: compute, keep in L1 (at most L1_TIMEOUT)
            st.stats.add("l1.misses")
            seq = st.seq
            value = compute()
            if st.seq == seq:
                st.l1.set(base + gens, st.codec.dumps(value), ttl)
            return value
    seq = st.seq
    try:
        gens, blob = generations.fetch(st, keys, base)
    except L2Down:
        return compute()
    key = base + gens
    l1_on = st.l1_on
    if blob is not None:
        st.stats.add_many(["l1.misses", "l2.hits"] if l1_on else ["l2.hits"])
        ok, value = _decoded(st, blob)
        if ok:
            if st.seq == seq and l1_on:
                st.l1.set(key, blob, ttl)
            return value
    else:
        st.stats.add_many(["l1.misses", "l2.misses"] if l1_on else ["l2.misses"])
    return _compute_once(st, key, compute, ttl, seq)


def _decoded(st: CacheState, blob: bytes) -> tuple[bool, Any]:
    try:
        return True, st.codec.loads(blob)
    except CodecError:
        st.stats.add("l2.refused")
        return False, None


def _compute_once(
    st: CacheState, key: str, compute: Callable[[], Any], ttl: int | None, seq: int
) -> Any:
    wait = get_config().cache.stampede_wait_s
    lock = key + ":lock"
    try:
        mine = wait <= 0 or bool(
            st.tier.run(lambda c: c.set(lock, b"1", nx=True, px=max(1, int(wait * 1000))))
        )
    except L2Down:
        return compute()
    if not mine:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(POLL_S)
            try:
                blob = st.tier.run(lambda c: c.get(key))
            except L2Down:
                break
            if blob is not None:
                ok, value = _decoded(st, blob)
                if ok:
                    st.stats.add("stampede.waited")
                    return value
                break
        st.stats.add("stampede.timeouts")
    value = compute()
    blob = st.codec.dumps(value)
    try:
        st.tier.run(
            lambda c: c.pipeline(transaction=False).set(key, blob, ex=ttl).delete(lock).execute()
        )
        st.stats.add("l2.sets")
        st.stats.add("l2.bytes_written", len(blob))
    except L2Down:
        return value
    if st.seq == seq and st.l1_on:
        st.l1.set(key, blob, ttl)
    return value


def _check_tracked(tables: Iterable[str]) -> None:
    untracked = set(tables) - tracked_tables()
    if untracked:
        raise ImproperlyConfigured(
            f"cached(tables=...) names {sorted(untracked)}, whose writes are not tracked: "
            "add their models to DBOPT['CACHE']['ORM_MODELS'] or ['TRACK_MODELS']. "
            "(django_dbopt.E032)"
        )


def cached(
    timeout: Any = DEFAULT_TIMEOUT,
    *,
    tags: Iterable[str] = (),
    tables: Iterable[str] = (),
    cache: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Cache ``fn(*args, **kwargs)``, keyed by its arguments' values (``identity``: model
    instances by label and pk; ``TypeError`` for an argument with no stable identity)."""
    tag_list, table_list = list(tags), list(tables)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        name = f"{fn.__module__}.{fn.__qualname__}"
        memo: dict[str, Any] = {}

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            config = get_config()
            if memo.get("config") is not config:
                _check_tracked(table_list)
                backend, st = _state(cache)
                keys = generations.gen_keys(st, tables=table_list, tags=tag_list)
                memo.update(config=config, st=st, keys=keys, ttl=_ttl(backend, timeout))
            st = memo["st"]
            base = f"{st.ns}f:{name}:{args_digest(args, kwargs)}:"
            return lookup_or_compute(  # type: ignore[no-any-return]
                st, base, memo["keys"], lambda: fn(*args, **kwargs), memo["ttl"]
            )

        return wrapper

    return decorate


def cache_queryset(
    queryset: QuerySet[Any],
    *,
    tags: Iterable[str] = (),
    timeout: Any = DEFAULT_TIMEOUT,
    cache: str | None = None,
) -> list[Any]:
    """``list(queryset)``, cached and invalidated by writes to every table it reads.
    Not cached on a connection whose session state may not be the default (its
    ``search_path``, role or row-level security settings were changed: ``writes.py``)."""
    connection = connections[queryset.db]
    connection.ensure_connection()  # a pooled connection may come with a tenant's state
    if session_changed(connection):
        return list(queryset.all())
    sql, params = queryset.query.sql_with_params()
    tables = sorted(tables_in(sql))
    _check_tracked(tables)
    backend, st = _state(cache)
    base = f"{st.ns}qs:{digest(primary_of(queryset.db), sql, params)}:"
    keys = generations.gen_keys(st, tables=tables, tags=tags)
    return lookup_or_compute(  # type: ignore[no-any-return]
        st, base, keys, lambda: list(queryset.all()), _ttl(backend, timeout)
    )


def invalidate_tags(*tags: str, cache: str | None = None) -> bool:
    """Invalidate everything cached with any of ``tags`` (True if written to Redis)."""
    _, st = _state(cache)
    return generations.bump(st, generations.gen_keys(st, tags=tags))

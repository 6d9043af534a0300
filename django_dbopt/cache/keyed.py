"""The lookup shared by the reads keyed before SQL compilation (``fastpath.py``,
``listpath.py``): L1, then L2 and the generations in one round trip, then compute."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_dbopt.cache import generations
from django_dbopt.cache.l2 import L2Down
from django_dbopt.cache.orm import Plan
from django_dbopt.cache.state import CacheState
from django_dbopt.conf import get_config


def through_cache(
    st: CacheState,
    plan: Plan,
    strict: bool,
    prefix: str,
    compute: Callable[[], tuple[Any, bytes | None]],
    decode: Callable[[bytes], Any],
    fills: bool = True,
) -> Any:
    """The value at ``prefix + generations`` of ``plan``'s tables: from L1 (strict: after
    checking the generations in Redis), L2, or ``compute()`` -> (result, bytes to store
    or None). A result that is an exception is stored, then raised. ``fills=False``
    (a read from a replica): served from the cache, never stored."""
    l1_on = st.l1_on
    guess = generations.local(st, plan.keys) if l1_on else None
    held = st.l1.get(prefix + guess) if guess else None
    if held is not None and not strict:
        st.stats.add_many(["l1.hits", *plan.hit_stats])
        st.stats.add_many(plan.byte_stats, len(held))
        return decode(held)
    seq = st.seq
    fetched: tuple[str, bytes | None] | None
    try:
        fetched = generations.fetch(st, plan.keys, prefix, guess or "", held is not None)
    except L2Down:  # outage or restart quarantine: compute, keep nothing
        fetched = None
    if fetched is None:
        result, _ = compute()
        if isinstance(result, BaseException):
            raise result
        return result
    gens, blob = fetched
    if held is not None and gens == guess:
        st.stats.add_many(["l1.hits", *plan.hit_stats])
        st.stats.add_many(plan.byte_stats, len(held))
        return decode(held)
    if blob is not None:
        if st.seq == seq and l1_on:
            st.l1.set(prefix + gens, blob)
        st.stats.add_many([*(["l1.misses"] if l1_on else []), "l2.hits", *plan.hit_stats])
        st.stats.add("l2.bytes_read", len(blob))
        st.stats.add_many(plan.byte_stats, len(blob))
        return decode(blob)
    st.stats.add_many([*(["l1.misses"] if l1_on else []), "l2.misses", *plan.miss_stats])
    result, blob = compute()
    if blob is not None and fills:  # not from a replica (see orm.py)
        _store(st, prefix + gens, blob, seq, l1_on)
    if isinstance(result, BaseException):
        raise result
    return result


def _store(st: CacheState, key: str, blob: bytes, seq: int, l1_on: bool) -> None:

    config = get_config().cache
    if len(blob) > config.orm_max_result_bytes:
        return
    if st.seq == seq and l1_on:
        st.l1.set(key, blob)
    st.outbox.put(key, blob, config.orm_timeout_s)

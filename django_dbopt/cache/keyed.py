"""The lookup every cached ORM read goes through (``orm.py``, ``fastpath.py``,
``listpath.py``): L1, then L2, then compute.

- Under an L1 lease with acknowledged invalidations (``leases.py``), the generations
  come from this process's map: an L1 hit makes no network call, and an L1 miss looks in
  L2 only while that pays (``lookups.py``), else goes straight to the database.
- Otherwise (no lease yet, L1 off, or ``ACK_INVALIDATIONS`` off in strict mode) the
  generations are read from Redis together with the L2 value in one round trip
  (``generations.fetch``); an L1 entry is used only if its generations are current.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django_dbopt.cache import generations
from django_dbopt.cache.codec import CodecError
from django_dbopt.cache.l2 import L2Down
from django_dbopt.cache.lookups import LOOK, PROBE, Lookups
from django_dbopt.cache.plans import CachePlan
from django_dbopt.cache.state import CacheState
from django_dbopt.conf import get_config

Compute = Callable[[], tuple[Any, bytes | None]]
#: what ``_served`` returns for a stored value the codec refused (a miss)
_REFUSED: Any = object()


def through_cache(
    st: CacheState,
    plan: CachePlan,
    prefix: str,
    *,
    compute: Compute,
    decode: Callable[[bytes], Any],
    strict: bool,
    fills: bool = True,
) -> Any:
    """The value at ``prefix + generations`` of ``plan``'s tables, from L1, L2, or
    ``compute()`` -> (result, bytes to store or None). A result that is an exception is
    stored, then raised. ``fills=False`` (a read from a replica): served from the cache,
    never stored."""
    l1_on = st.l1_on
    guess = generations.joined(st, plan.keys) if l1_on else None
    held = st.l1.get(prefix + guess) if guess else None
    if guess and (st.trusted or not strict):
        if held is not None:
            value = _served(st, plan, "l1.hits", held, decode)
            if value is not _REFUSED:
                return value
        return _leased_miss(st, plan, prefix + guess, compute=compute, decode=decode, fills=fills)
    return _checked(
        st, plan, prefix, guess, held, compute=compute, decode=decode, fills=fills, l1_on=l1_on
    )


def _checked(
    st: CacheState,
    plan: CachePlan,
    prefix: str,
    guess: str | None,
    held: bytes | None,
    *,
    compute: Compute,
    decode: Callable[[bytes], Any],
    fills: bool,
    l1_on: bool,
) -> Any:
    """Without a usable lease: the generations from Redis with the L2 value, in one round
    trip; the L1 entry ``held`` under ``guess`` is used only if the generations match."""
    seq = st.seq
    fetched: tuple[str, bytes | None] | None
    try:
        fetched = generations.fetch(st, plan.keys, prefix, guess or "", have=held is not None)
    except L2Down:  # outage or restart quarantine: compute, keep nothing
        fetched = None
    if fetched is None:
        return _result(compute()[0])
    gens, blob = fetched
    if held is not None and gens == guess:
        value = _served(st, plan, "l1.hits", held, decode)
        if value is not _REFUSED:
            return value
    elif blob is not None:
        value = _l2_hit(st, plan, prefix + gens, blob, decode, seq=seq, l1_on=l1_on)
        if value is not _REFUSED:
            return value
    st.stats.add_many([*(["l1.misses"] if l1_on else []), "l2.misses", *plan.miss_stats])
    result, blob = compute()
    if blob is not None and fills:  # not from a replica (see orm.py)
        _store(st, prefix + gens, blob, seq, l1_on=l1_on)
    return _result(result)


def _l2_hit(
    st: CacheState,
    plan: CachePlan,
    key: str,
    blob: bytes,
    decode: Callable[[bytes], Any],
    *,
    seq: int,
    l1_on: bool,
) -> Any:
    """The value found in L2 (kept in L1 unless an invalidation overtook the read), or
    ``_REFUSED``."""
    st.stats.add("l2.bytes_read", len(blob))
    if l1_on:
        st.stats.add("l1.misses")
    value = _served(st, plan, "l2.hits", blob, decode)
    if value is not _REFUSED and st.seq == seq and l1_on:
        st.l1.set(key, blob)
    return value


def _leased_miss(
    st: CacheState,
    plan: CachePlan,
    key: str,
    *,
    compute: Compute,
    decode: Callable[[bytes], Any],
    fills: bool,
) -> Any:
    """An L1 miss with the generations known locally: L2 first if looking pays, else the
    database (with, now and then, an L2 probe riding alongside it: ``lookups.py``)."""
    seq = st.seq
    if st.local:  # L1-only mode: the database, then L1
        st.stats.add_many(["l1.misses", *plan.miss_stats])
        result, blob = compute()
        if blob is not None and fills:
            _store(st, key, blob, seq, l1_on=True)
        return _result(result)
    lookups = plan.lookups
    decision = lookups.decide()
    if decision == LOOK:
        start = time.perf_counter()
        try:
            blob = get_l2(st, key)
        except L2Down:  # L1 was dropped with the lease: compute, keep nothing
            return _result(compute()[0])
        lookups.looked(hit=blob is not None, seconds=time.perf_counter() - start)
        if blob is not None:
            st.stats.add("l1.misses")
            value = _served(st, plan, "l2.hits", blob, decode)
            if value is not _REFUSED:
                if st.seq == seq:
                    st.l1.set(key, blob)
                return value
        st.stats.add_many(["l1.misses", "l2.misses", *plan.miss_stats])
    else:
        st.stats.add_many(["l1.misses", "l2.skipped", *plan.miss_stats])
    return _computed(st, key, lookups, compute, probe=decision == PROBE, fills=fills, seq=seq)


def _computed(
    st: CacheState,
    key: str,
    lookups: Lookups,
    compute: Compute,
    *,
    probe: bool,
    fills: bool,
    seq: int,
) -> Any:
    """Compute (the database) and store the result; with ``probe``, an L2 lookup rides
    alongside to measure whether looking would have paid (``lookups.py``)."""
    pending = st.tier.send([("GET", key)]) if probe else None
    start = time.perf_counter()
    try:
        result, blob = compute()
    except BaseException:
        if pending is not None:
            pending.abandon()
        raise
    lookups.computed(time.perf_counter() - start)
    if pending is not None:
        replies = pending.replies()
        if replies is not None:
            lookups.looked(hit=replies[0] is not None)
    if blob is not None and fills:
        _store(st, key, blob, seq, l1_on=True)
    return _result(result)


def get_l2(st: CacheState, key: str) -> bytes | None:
    """``GET key`` in L2, sending the queued stores (``outbox.py``) in the same round
    trip. Raises ``L2Down``."""
    items = st.outbox.take() if len(st.outbox) else []

    def get(client: Any) -> bytes | None:
        if not items:
            return client.get(key)  # type: ignore[no-any-return]
        pipe = client.pipeline(transaction=False)
        st.outbox.add_to(pipe, items)
        pipe.get(key)
        return pipe.execute()[-1]  # type: ignore[no-any-return]

    try:
        blob = st.tier.run(get)
    except L2Down:
        st.outbox.sent(items, ok=False)
        raise
    st.outbox.sent(items, ok=True)
    if blob is not None:
        st.stats.add("l2.bytes_read", len(blob))
    return blob


def row_of(instance: Any) -> tuple[Any, ...] | None:
    """The values ``from_db`` built a model ``instance`` from (its concrete fields'
    attributes, as the database converters returned them), or None if one is not plainly
    stored. Cached instead of the instance: a row pickles in about a quarter of the time,
    and ``Model.from_db(alias, None, row)`` rebuilds it as the ORM does."""
    state = instance.__dict__
    try:
        return tuple([state[f.attname] for f in instance._meta.concrete_fields])
    except KeyError:
        return None


def _served(
    st: CacheState, plan: CachePlan, tier_hit: str, blob: bytes, decode: Callable[[bytes], Any]
) -> Any:
    """The decoded value, or ``_REFUSED`` when the codec refused it (counted; the caller
    computes instead: a value that is not signed, corrupt or too big is a miss)."""
    try:
        value = decode(blob)
    except CodecError:
        st.stats.add("l2.refused")
        return _REFUSED
    st.stats.add_sized([tier_hit, *plan.hit_stats], plan.byte_stats, len(blob))
    return value


def _result(result: Any) -> Any:
    if isinstance(result, BaseException):
        raise result
    return result


def _store(st: CacheState, key: str, blob: bytes, seq: int, *, l1_on: bool) -> None:
    config = get_config().cache
    if len(blob) > config.orm_max_result_bytes:
        return
    if st.seq == seq and l1_on:
        st.l1.set(key, blob)
    if not st.local:
        st.outbox.put(key, blob, config.orm_timeout_s)

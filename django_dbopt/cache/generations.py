"""Generation counters for tables and tags: O(1) invalidation, never going backwards.

A cached value's key contains the generations of every table and tag it depends on,
read *before* the value is computed. Invalidating a table is one ``INCR`` of its counter
(plus a pub/sub message so other processes forget their local copy of the counter);
nothing is scanned or deleted, entries keyed by old generations just stop being
addressed and expire. ``l2.py`` explains why a counter can never go backwards.

A bump is *acknowledged* (``leases.py``): it returns once every other process holding
an L1 lease has applied it, so no process serves L1 from before it afterwards.

When a bump cannot be written (Redis down), its keys are remembered in
``state.pending`` and every cached ORM read is bypassed until they are written: until
then, other processes could still address entries the write made stale.

In L1-only mode (no L2) the counters live in the process only: each new value (a seed,
or a bump) is taken from one process-wide counter that only goes up, so a generation
dropped from the bounded map and seeded again is above every value it ever had.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django_dbopt.cache import leases
from django_dbopt.cache.l2 import L2Down, Quarantined

if TYPE_CHECKING:  # states call these functions: annotations only, no import cycle
    from django_dbopt.cache.state import CacheState


def table_key(st: CacheState, table: str) -> str:
    return f"{st.ns}g:t:{table}"


def tag_key(st: CacheState, tag: str) -> str:
    return f"{st.ns}g:tag:{tag}"


def gen_keys(st: CacheState, tables: Iterable[str] = (), tags: Iterable[str] = ()) -> list[str]:
    return sorted({*(table_key(st, t) for t in tables), *(tag_key(st, t) for t in tags)})


def local(st: CacheState, keys: Sequence[str]) -> str | None:
    """The generations from this process's map (kept current by acknowledged pub/sub
    messages), if all are known and the process holds an L1 lease."""
    return joined(st, keys) if st.l1_on else None


def joined(st: CacheState, keys: Sequence[str]) -> str | None:
    """``local`` for a caller that has just checked the lease itself."""
    try:
        return ".".join([st.local_gens[k] for k in keys])
    except KeyError:
        return _seeded(st, keys) if st.local else None


#: L1-only mode's generations: seeded from the clock (µs) once, then only going up
_counter = itertools.count(time.time_ns() // 1000)
_counter_lock = threading.Lock()


def new_lock_after_fork() -> None:
    """In a forked child (``cache.wiring``): a parent thread may have held the lock."""
    global _counter_lock
    _counter_lock = threading.Lock()


def _next_value() -> str:
    with _counter_lock:
        return str(next(_counter))


def _seeded(st: CacheState, keys: Sequence[str]) -> str:
    """L1-only mode: the local generations, seeding the missing ones."""
    values = []
    for key in keys:
        value = st.local_gens.get(key)
        if value is None:
            st.raise_generation(key, _next_value())
            value = st.local_gens.get(key) or _next_value()
        values.append(value)
    return ".".join(values)


def _local_bump(st: CacheState, keys: Iterable[str]) -> bool:
    ordered = sorted(set(keys))
    for key in ordered:
        st.raise_generation(key, _next_value())
    st.invalidated()
    st.stats.add_many(
        [f"table.{k.rsplit(':', 1)[1]}.invalidations" for k in ordered if ":g:t:" in k]
    )
    return True


def remember(st: CacheState, keys: Sequence[str], gens: str, seq: int) -> None:
    """Keep generations read from Redis, unless an invalidation arrived meanwhile."""
    if keys and st.seq == seq and st.l1_on:  # no keys: "" is no generation
        for key, gen in zip(keys, gens.split("."), strict=True):
            st.raise_generation(key, gen)


def fetch(
    st: CacheState,
    keys: Sequence[str],
    prefix: str = "",
    guess: str = "",
    *,
    have: bool = False,
) -> tuple[str, bytes | None]:
    """Current generations (seeding missing counters) and, if ``prefix`` is given, the
    value stored at ``prefix + generations``, in one round trip. With ``have``, the value
    is not sent when the generations equal ``guess``. Raises ``L2Down``."""
    seq = st.seq
    args: list[Any] = [prefix, guess, "1" if have else "0", st.up_key, st.quarantine_ms]
    items = st.outbox.take() if len(st.outbox) else []
    for key, blob, ttl_s in items:
        args += (key, ttl_s, blob)
    try:
        reply = st.tier.script("fetch", keys, args)
    except L2Down:
        st.outbox.sent(items, ok=False)
        raise
    st.outbox.sent(items, ok=True)
    gens = reply[0].decode()
    if reply[2]:
        st.stats.add("l2.quarantined")
        raise Quarantined("Redis came back less than the restart quarantine ago")
    remember(st, keys, gens, seq)
    return gens, reply[1] or None


def current(st: CacheState, keys: Sequence[str]) -> str:
    """Generations, from the local map when possible, else from Redis. Raises ``L2Down``."""
    return local(st, keys) or fetch(st, keys)[0]


def bump(
    st: CacheState, keys: Iterable[str], *, force: bool = False, wait: bool | None = None
) -> bool:
    """Invalidate: ``INCR`` each counter and tell other processes; with ``wait`` (default:
    the cache's ``ACK_INVALIDATIONS``), return only once every other L1 lease holder has
    applied it. False if Redis is down (the keys stay pending and ORM caching is bypassed
    until they are written; with ``wait``, after waiting out the leases)."""
    if st.local:
        return _local_bump(st, keys)
    wanted = set(keys) | st.pending
    if not wanted:
        return True
    ordered = sorted(wanted)
    ack = st.new_ack(wait=wait)
    try:
        values, flat, now_ms, young_wait_ms = st.tier.script(
            "bump",
            [*ordered, st.leases_key],
            [st.channel, st.node, ack, st.up_key, st.quarantine_ms, st.lease_ms],
            force=force,
        )
    except L2Down:
        for key in wanted:
            st.local_gens.pop(key, None)
        st.pending |= wanted
        if ack != leases.NO_ACK:
            st.outage_wait()
        return False
    for key, value in zip(ordered, values, strict=True):
        st.raise_generation(key, str(value))
    st.invalidated()  # a concurrent fetch of the old values must not be remembered
    st.pending -= wanted
    st.stats.add_many(
        [f"table.{k.rsplit(':', 1)[1]}.invalidations" for k in ordered if ":g:t:" in k]
    )
    leases.await_acks(st, ack, flat, now_ms, young_wait_ms)
    return True


def writable(st: CacheState) -> bool:
    """No invalidation is waiting to be written (writing pending ones first if possible)."""
    if not st.pending:
        return True
    return bump(st, ())

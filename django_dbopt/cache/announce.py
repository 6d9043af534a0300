"""A write that other processes must hear about: its commands and the invalidation of its
keys in one round trip, then (with ``ACK_INVALIDATIONS``) the wait for every L1 lease
holder to apply it (``leases.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django_dbopt.cache import leases
from django_dbopt.cache.l2 import Client
from django_dbopt.cache.scripts import SCRIPTS
from django_dbopt.cache.state import CacheState


def announced(
    st: CacheState, kind: str, keys: Sequence[str], build: Callable[[Any], object]
) -> list[Any]:
    """Run the commands ``build`` adds to a pipeline and publish the invalidation of
    ``keys`` in the same round trip; with
    ``ACK_INVALIDATIONS``, return once every other L1 lease holder has applied it.
    Returns the replies of ``build``'s commands. Raises ``L2Down``."""
    ack = st.new_ack()
    message = st.message(kind, keys, ack)

    def run(c: Client) -> list[Any]:
        pipe = c.pipeline(transaction=False)
        pipe.eval(  # EVAL, not EVALSHA: a pipeline cannot fall back after NOSCRIPT
            SCRIPTS["announce"][1],
            2,
            st.leases_key,
            st.up_key,
            st.channel,
            message,
            ack,
            st.quarantine_ms,
            st.lease_ms,
        )
        build(pipe)
        return pipe.execute()

    (flat, now_ms, young_wait_ms), *replies = st.tier.run(run)
    st.invalidated()  # a concurrent read of the old value must not fill L1
    leases.await_acks(st, ack, flat, now_ms, young_wait_ms)
    return replies

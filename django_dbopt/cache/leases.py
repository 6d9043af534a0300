"""L1 leases and acknowledged invalidations: how an L1 hit can be stale-free with no
network call.

A pub/sub message alone cannot make L1 stale-free: the writer's commit returns while the
message is still on its way (or waiting for the reader's GIL), and a read starting then
would be served from L1 what the commit just changed. So invalidations are
*acknowledged*, and L1 is used only under a *lease*:

- **Lease.** A process trusts its L1 (and its local generation map) only while it holds a
  lease. Its listener thread renews it every ``lease / 4`` with one Lua script
  (``RENEW_LUA``) that publishes a heartbeat on the process's private channel and, only if
  that reached its own subscription, records ``node -> expiry`` (Redis clock) in a sorted
  set. The process's own lease starts when the heartbeat comes back through its
  subscription (so every message published before it has been applied) and ends
  ``lease`` after the renewal was *sent* (local monotonic clock, so it always ends before
  the expiry Redis recorded). No lease while Redis is young (restart quarantine).
- **Acknowledged invalidation.** A writer publishes its invalidation with an ack key; the
  same script returns the lease holders. Each holder's listener applies the message, then
  pushes its node id onto the ack key. The writer waits until every other holder has
  acknowledged or its lease has expired, whichever comes first. So when a commit (or a
  ``cache.set``/``delete``) returns, no process still serves L1 from before it.
- A holder that does not acknowledge (hung, partitioned, killed) costs writers at most
  its remaining lease, once. A process that is not subscribed holds no lease. When the
  writer cannot reach Redis, it waits one lease from the start of the outage: no lease
  can be renewed while Redis is down. After Redis restarts, writers wait until leases
  granted by the old Redis have run out (Redis young: ``announce`` says how long).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django_dbopt.cache.l2 import L2Down

if TYPE_CHECKING:
    from django_dbopt.cache.state import CacheState

#: longest single blocking wait for acks (stays well under the Redis socket timeout)
BLOCK_S = 0.2
#: a local lease ends this fraction early (clock rate differences between hosts)
SAFETY = 0.95
#: the ack key of an invalidation nobody waits for
NO_ACK = "-"


def holders(flat: Sequence[Any], own: bytes) -> dict[bytes, int]:
    """``{node: expiry_ms}`` from ``ZRANGE ... WITHSCORES``, without this process."""
    out: dict[bytes, int] = {}
    for i in range(0, len(flat) - 1, 2):
        node = flat[i]
        if node != own:
            out[node] = int(float(flat[i + 1]))
    return out


def await_acks(
    st: CacheState, ack_key: str, flat: Sequence[Any], now_ms: int, young_wait_ms: int
) -> int:
    """Wait until every other lease holder acknowledged ``ack_key`` or its lease ran out;
    then, while Redis is young, until leases of the old Redis ran out. Returns how many
    holders did not acknowledge (their leases expired instead). Nothing for ``NO_ACK``."""
    if ack_key == NO_ACK:
        return 0
    start = time.monotonic()
    deadlines = {n: start + (exp - now_ms) / 1000 for n, exp in holders(flat, st.node).items()}
    if not deadlines and young_wait_ms <= 0:
        return 0
    pending = set(deadlines)
    late = 0
    while pending:
        now = time.monotonic()
        running = {n for n in pending if deadlines[n] > now}
        late += len(pending) - len(running)
        pending = running
        if not pending:
            break
        block = min(max(deadlines[n] for n in pending) - now, BLOCK_S)
        wanted = len(pending)
        try:
            acked = st.tier.run(
                functools.partial(_take_acks, ack_key=ack_key, block=block, wanted=wanted)
            )
        except L2Down:  # cannot hear from them: wait their leases out
            wait_out(max(deadlines[n] for n in pending) - time.monotonic())
            late += len(pending)
            break
        pending.difference_update(acked)
    wait_out(start + young_wait_ms / 1000 - time.monotonic())
    st.stats.add("acks.waits")
    st.stats.add("acks.wait_us", int((time.monotonic() - start) * 1e6))
    if late:
        st.stats.add("acks.expired", late)
    return late


def _take_acks(client: Any, *, ack_key: str, block: float, wanted: int) -> list[bytes]:
    got = client.blpop([ack_key], timeout=max(block, 0.001))
    if got is None:
        return []
    acked = [got[1]]
    if wanted > 1:
        acked += client.lpop(ack_key, wanted - 1) or []
    return acked


def wait_out(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)

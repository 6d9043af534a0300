"""Pool sizing advice from what was measured, and optional resizing within a budget.

The advice reads a pool's counters (``stats.pool_stats``): how many checkouts had to
wait (``requests_queued`` of ``requests_num``), how long they waited on average
(``requests_wait_ms``), timeouts and exhaustion errors, and the peak number of
connections held at once. Nothing measured, no advice: ``"no data"``.

With ``DBOPT['POOL']['AUTO_RESIZE']`` the managed pools apply the advice themselves
every ``RESIZE_INTERVAL_S`` (from the counters of that interval only), never letting the
sum of ``max_size`` over this process's pools exceed ``CONNECTION_BUDGET``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt.pool")

#: a pool where more than this share of checkouts waited ...
WAITING_SHARE = 0.05
#: ... for longer than this on average is too small
WAIT_MS = 5.0
#: checkouts needed before advising to shrink
MIN_REQUESTS_TO_SHRINK = 100

Action = Literal["grow", "shrink", "keep", "no data"]


@dataclass
class Advice:
    alias: str
    action: Action
    min_size: int | None = None
    max_size: int | None = None
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def advise(stats: dict[str, Any] | None, counters: dict[str, int] | None = None) -> Advice:
    """Advice for one alias from ``pool_stats()`` (``counters``: an interval's deltas)."""
    if stats is None:
        return Advice("?", "no data", reasons=["no pool in this process yet"])
    alias = stats["alias"]
    counts = counters if counters is not None else stats["counters"]
    requests = counts.get("requests_num", 0)
    if requests == 0:
        return Advice(alias, "no data", reasons=["no checkouts measured yet"])
    min_size, max_size = stats["pool_min"], stats["pool_max"]
    queued = counts.get("requests_queued", 0)
    share = queued / requests
    wait_ms = counts.get("requests_wait_ms", 0) / queued if queued else 0.0
    failed = counts.get("requests_errors", 0) + counts.get("exhausted", 0)
    peak = stats.get("peak_in_use")  # tracked by the managed pool only
    reasons = [
        f"{requests} checkouts, {share:.1%} waited (avg {wait_ms:.1f} ms), "
        f"{failed} failed, peak {'unknown' if peak is None else peak} of max {max_size} in use"
    ]
    # Waits while the pool was below max_size were for new connections, not for room.
    full = peak is None or peak >= max_size
    if failed or (full and share > WAITING_SHARE and wait_ms > WAIT_MS):
        grow = max(1, math.ceil(max_size * 0.5))
        reasons.append(f"checkouts waited or failed with the pool full: raise max_size by {grow}")
        return Advice(alias, "grow", min_size, max_size + grow, reasons)
    if requests >= MIN_REQUESTS_TO_SHRINK and peak is not None and 0 < peak < min_size:
        reasons.append(f"never more than {peak} in use: min_size {peak} keeps fewer idle")
        return Advice(alias, "shrink", peak, max_size, reasons)
    reasons.append("the pool's size fits its load")
    return Advice(alias, "keep", min_size, max_size, reasons)


def within_budget(advice: list[Advice], current_max: dict[str, int], budget: int | None) -> None:
    """Cap growth so that the sum of ``max_size`` stays within ``budget`` (in place)."""
    if budget is None:
        return
    total = sum(current_max.values())
    for item in advice:
        if item.action != "grow" or item.max_size is None:
            continue
        room = budget - total
        wanted = item.max_size - current_max[item.alias]
        if room <= 0:
            item.action = "keep"
            item.max_size = current_max[item.alias]
            item.reasons.append(f"no room left in CONNECTION_BUDGET={budget}")
            continue
        if wanted > room:
            item.max_size = current_max[item.alias] + room
            item.reasons.append(f"growth capped by CONNECTION_BUDGET={budget}")
        total += item.max_size - current_max[item.alias]


_last: dict[str, Counter[str]] = {}


def auto_resize() -> list[Advice]:
    """Resize this process's managed pools from the counters since the previous call."""
    from django_dbopt.pool.managed import ManagedPool
    from django_dbopt.pool.stats import live_pools, pool_stats

    pools = {a: p for a, p in live_pools().items() if isinstance(p, ManagedPool)}
    advice, current = [], {}
    for alias, pool in pools.items():
        stats = pool_stats(alias)
        if stats is None:
            continue
        now = Counter({k: v for k, v in stats["counters"].items() if isinstance(v, int)})
        previous = _last.get(alias)
        _last[alias] = now
        current[alias] = pool.max_size
        if previous is None:
            # The counters span the whole process (earlier pools too): the first call
            # only starts the interval the next call measures.
            advice.append(Advice(alias, "no data", reasons=["first interval started"]))
            continue
        advice.append(advise(stats, dict(now - previous)))
    within_budget(advice, current, get_config().pool.connection_budget)
    for item in advice:
        if item.action in ("grow", "shrink") and item.min_size is not None and item.max_size:
            logger.info(
                "Resizing the pool of %r to min_size=%s max_size=%s: %s",
                item.alias,
                item.min_size,
                item.max_size,
                "; ".join(item.reasons),
            )
            pools[item.alias].resize(item.min_size, item.max_size)
    return advice

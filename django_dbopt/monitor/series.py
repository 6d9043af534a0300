"""Time series from the monitor's stored buckets: latency percentiles and throughput over
time, for all queries or for one fingerprint (the admin's history charts, the overview and
the alert rules).

Rows are read as the store keeps them (fine buckets, then hour and day roll-ups) and put
in ``slots`` equal slots between ``since`` and now; a slot with no row has no data (it is
not a zero). Percentiles come from the merged histograms of the slot.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

from django.utils import timezone

from django_dbopt.conf import get_config
from django_dbopt.monitor import histogram
from django_dbopt.monitor.scope import suppressed
from django_dbopt.monitor.store import bucket_start

Row = tuple[datetime.datetime, str, str, int, float, dict[int, int]]


@dataclass
class Slot:
    start: datetime.datetime
    seconds: float
    calls: int = 0
    total_ms: float = 0.0
    hist: dict[int, int] = field(default_factory=dict)

    @property
    def middle(self) -> datetime.datetime:
        return self.start + datetime.timedelta(seconds=self.seconds / 2)

    @property
    def has_data(self) -> bool:
        return self.calls > 0

    @property
    def per_second(self) -> float | None:
        return self.calls / self.seconds if self.calls else None

    @property
    def mean_ms(self) -> float | None:
        return self.total_ms / self.calls if self.calls else None

    def percentile_ms(self, q: float) -> float | None:
        value = histogram.percentile(self.hist, q) if self.hist else None
        return None if value is None else value / 1e6


def _db_rows(since: datetime.datetime, fingerprints: Collection[str] | None) -> Iterator[Row]:
    from django_dbopt.monitor.db_store import DatabaseStore
    from django_dbopt.monitor.models import QueryStat

    rows = QueryStat.objects.using(DatabaseStore().alias).filter(
        bucket_start__gte=bucket_start(since, 1)
    )
    if fingerprints is not None:
        rows = rows.filter(fingerprint__in=list(fingerprints))
    for r in rows.values_list(
        "bucket_start", "fingerprint", "view", "calls", "total_ms", "histogram"
    ).iterator(chunk_size=2000):
        yield r[0], r[1], r[2], int(r[3]), float(r[4]), histogram.from_json(r[5])


def _redis_rows(
    alias: str, since: datetime.datetime, fingerprints: Collection[str] | None
) -> Iterator[Row]:
    from django_dbopt.monitor.redis_store import PREFIX, RedisStore

    store = RedisStore(alias)
    resolution = store._resolution(since)
    low = int(bucket_start(since, resolution).timestamp())
    starts = [int(s) for s in store.redis.zrangebyscore(f"{PREFIX}b:{resolution}", low, "+inf")]
    for start in starts:
        members = [m.decode() for m in store.redis.smembers(f"{PREFIX}i:{resolution}:{start}")]
        members = [m for m in members if fingerprints is None or m.split("|")[0] in fingerprints]
        pipe = store.redis.pipeline(transaction=False)
        for member in members:
            pipe.hgetall(f"{PREFIX}s:{resolution}:{start}:{member}")
        at = datetime.datetime.fromtimestamp(start, tz=datetime.UTC)
        for member, raw in zip(members, pipe.execute(), strict=True):
            if not raw:
                continue
            data = {k.decode(): v.decode() for k, v in raw.items()}
            fp, _, view = member.partition("|")
            hist = {int(k[1:]): int(v) for k, v in data.items() if k.startswith("h")}
            yield at, fp, view, int(data["calls"]), float(data["total_ms"]), hist


def rows(since: datetime.datetime, fingerprints: Collection[str] | None = None) -> Iterator[Row]:
    """Every stored bucket row since ``since`` (of ``fingerprints`` only, when given)."""
    alias = get_config().monitor.store_cache
    token = suppressed.set(True)
    try:
        if alias:
            yield from _redis_rows(alias, since, fingerprints)
        else:
            yield from _db_rows(since, fingerprints)
    finally:
        suppressed.reset(token)


def domain(slots: list[Slot]) -> tuple[datetime.datetime, datetime.datetime]:
    """The time axis the slots cover."""
    return slots[0].start, slots[-1].start + datetime.timedelta(seconds=slots[-1].seconds)


def series(
    since: datetime.datetime,
    fingerprints: Collection[str] | None = None,
    keep_view: Callable[[str], bool] | None = None,
    slots: int = 60,
    until: datetime.datetime | None = None,
    trim: bool = True,
) -> list[Slot]:
    """At most ``slots`` equal slots (none finer than ``BUCKET_S``) from ``since`` to
    ``until`` (now), merged over the rows (of ``fingerprints`` and of views ``keep_view``
    keeps, when given). With ``trim`` the slots begin at the first stored row after
    ``since``, so a fingerprint first seen a minute ago draws a minute, not a day."""
    end = until or timezone.now()
    bucket = get_config().monitor.bucket_s
    found = [r for r in rows(since, fingerprints) if keep_view is None or keep_view(r[2])]
    if trim and found:
        since = max(since, min(r[0] for r in found))
    since = bucket_start(since, bucket)  # slots start where buckets start: no empty ones
    total = max((end - since).total_seconds(), 1.0)
    width = max(total / slots, float(bucket))  # never finer than the stored buckets
    slots = max(1, math.ceil(total / width))
    out = [Slot(since + datetime.timedelta(seconds=width * n), width) for n in range(slots)]
    for at, _fp, _view, calls, total_ms, hist in found:
        index = int((at - since).total_seconds() // width)
        slot = out[min(max(index, 0), slots - 1)]
        slot.calls += calls
        slot.total_ms += total_ms
        histogram.merge(slot.hist, hist)
    return out

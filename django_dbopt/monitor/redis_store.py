"""The shared store in Redis (``DBOPT['MONITOR']['STORE_CACHE']`` names a django-redis cache).

Each flush merges its deltas into two bucketed hashes per (fingerprint, view) with one
Lua script per key (atomic: counters are added, min/max compared, histogram buckets
added): a fine bucket of ``BUCKET_S`` seconds kept ``ROLLUP_AFTER_H`` hours, and an hour
bucket kept ``RETENTION_DAYS``. That is the roll-up, done at write time; expiry is the
pruning, so nothing is ever scanned or deleted in bulk. The ``shapes`` hash (normalized
SQL per fingerprint) expires ``RETENTION_DAYS`` after the last flush, and ``maintain()``
drops the shapes no flush has written for ``RETENTION_DAYS`` (``shapes:seen`` index).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import caches

from django_dbopt.conf import get_config
from django_dbopt.exceptions import NotSupported
from django_dbopt.monitor.aggregates import Key, Snapshot, Stats
from django_dbopt.monitor.fingerprint import Fingerprint
from django_dbopt.monitor.scope import Finding
from django_dbopt.monitor.store import bucket_start

PREFIX = "dbopt:mon:"
#: fingerprint -> when its shape was last written (the ``shapes`` hash's expiry index)
SHAPES_SEEN = f"{PREFIX}shapes:seen"

_MERGE = """
local k = KEYS[1]
redis.call('HINCRBY', k, 'calls', ARGV[1])
redis.call('HINCRBYFLOAT', k, 'total_ms', ARGV[2])
redis.call('HINCRBY', k, 'slow', ARGV[3])
local mn = redis.call('HGET', k, 'min_ms')
if (not mn) or tonumber(ARGV[4]) < tonumber(mn) then redis.call('HSET', k, 'min_ms', ARGV[4]) end
local mx = redis.call('HGET', k, 'max_ms')
if (not mx) or tonumber(ARGV[5]) > tonumber(mx) then redis.call('HSET', k, 'max_ms', ARGV[5]) end
for i = 9, #ARGV, 2 do redis.call('HINCRBY', k, 'h' .. ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', k, ARGV[6])
redis.call('SADD', KEYS[2], ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[7])
return 1
"""

_FINDING = """
local k = KEYS[1]
redis.call('HSETNX', k, 'first_seen', ARGV[1])
redis.call('HSET', k, 'last_seen', ARGV[1], 'payload', ARGV[2])
redis.call('HINCRBY', k, 'occurrences', ARGV[6])
redis.call('HINCRBYFLOAT', k, 'total_ms', ARGV[3])
local mc = redis.call('HGET', k, 'max_count')
if (not mc) or tonumber(ARGV[4]) > tonumber(mc) then
  redis.call('HSET', k, 'max_count', ARGV[4])
end
redis.call('EXPIRE', k, ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[1], k)
return 1
"""


class RedisStore:
    def __init__(self, cache_alias: str) -> None:
        cache = caches[cache_alias]
        client = getattr(cache, "client", None)
        if client is None or not hasattr(client, "get_client"):
            raise NotSupported(
                f"STORE_CACHE {cache_alias!r} is not a django-redis cache "
                "(django_redis.cache.RedisCache)"
            )
        self.redis = client.get_client(write=True)

    # -- writing -----------------------------------------------------------------------
    def write(
        self, snapshot: Snapshot, slow: list[dict[str, Any]], findings: list[Finding]
    ) -> None:
        config = get_config().monitor
        now = datetime.datetime.now(tz=datetime.UTC)
        retention = config.retention_days * 86400
        levels = (
            (config.bucket_s, config.rollup_after_h * 3600 + config.bucket_s),
            (3600, retention),
        )
        pipe = self.redis.pipeline(transaction=False)
        merge = self.redis.register_script(_MERGE)
        for resolution, ttl in levels:
            start = int(bucket_start(now, resolution).timestamp())
            index = f"{PREFIX}i:{resolution}:{start}"
            buckets = f"{PREFIX}b:{resolution}"
            for (fp, view), stats in snapshot.stats.items():
                member = f"{fp}|{view}"
                args: list[Any] = [
                    stats.calls,
                    repr(stats.total_ns / 1e6),
                    stats.slow,
                    repr(stats.min_ns / 1e6),
                    repr(stats.max_ns / 1e6),
                    ttl,
                    start,
                    member,
                ]
                for bucket, count in stats.hist.items():
                    args += [bucket, count]
                merge(
                    keys=[f"{PREFIX}s:{resolution}:{start}:{member}", index, buckets],
                    args=args,
                    client=pipe,
                )
            pipe.zremrangebyscore(buckets, "-inf", start - ttl)
        shapes = {s.fingerprint.id: (s.fingerprint.sql, s.alias) for s in snapshot.stats.values()}
        shapes.update({s["fingerprint"]: (s["sql"], s["alias"]) for s in slow})
        shapes.update({f.fingerprint: (f.sql, f.alias) for f in findings})
        for fp, (sql, alias) in shapes.items():
            pipe.hsetnx(f"{PREFIX}shapes", fp, json.dumps([sql, alias]))
        if shapes:  # when each shape was last written: maintain() drops the stale ones
            pipe.zadd(SHAPES_SEEN, dict.fromkeys(shapes, now.timestamp()))
            pipe.expire(f"{PREFIX}shapes", retention)
            pipe.expire(SHAPES_SEEN, retention)
        for sample in slow:
            pipe.lpush(f"{PREFIX}slow", json.dumps(sample))
        pipe.ltrim(f"{PREFIX}slow", 0, 999)
        finding_script = self.redis.register_script(_FINDING)
        for f in findings:
            ident = hashlib.blake2b(
                f"{f.fingerprint}|{f.view}|{f.call_site}".encode(), digest_size=8
            ).hexdigest()
            payload = json.dumps(
                {
                    k: v
                    for k, v in f.as_dict().items()
                    if k not in ("count", "total_ms", "occurrences")
                }
            )
            finding_script(
                keys=[f"{PREFIX}np:{ident}", f"{PREFIX}np"],
                args=[
                    now.timestamp(),
                    payload,
                    repr(f.total_ms),
                    f.count,
                    retention,
                    f.occurrences,
                ],
                client=pipe,
            )
        pipe.lpush(
            f"{PREFIX}flushes",
            json.dumps(
                {
                    "at": time.time(),
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "keys": len(snapshot.stats),
                    "evictions": snapshot.evictions,
                }
            ),
        )
        pipe.ltrim(f"{PREFIX}flushes", 0, 9999)
        pipe.execute()

    def maintain(self) -> dict[str, int]:
        """Expiry prunes buckets; drop index entries of expired findings (bounded)."""
        config = get_config().monitor
        cutoff = time.time() - config.retention_days * 86400
        pruned = int(self.redis.zremrangebyscore(f"{PREFIX}np", "-inf", cutoff))
        for _ in range(20):  # bounded; the next call continues
            stale = self.redis.zrangebyscore(SHAPES_SEEN, "-inf", cutoff, start=0, num=1000)
            if not stale:
                break
            pipe = self.redis.pipeline(transaction=False)
            pipe.hdel(f"{PREFIX}shapes", *stale)
            pipe.zrem(SHAPES_SEEN, *stale)
            pruned += int(pipe.execute()[0])
        return {"compacted": 0, "rolled_up": 0, "pruned": pruned}

    # -- reading -----------------------------------------------------------------------
    def _resolution(self, since: datetime.datetime | None) -> int:
        config = get_config().monitor
        if since is None:
            return 3600
        age = datetime.datetime.now(tz=datetime.UTC) - since
        return config.bucket_s if age <= datetime.timedelta(hours=config.rollup_after_h) else 3600

    def load(self, since: datetime.datetime | None, view: str | None = None) -> dict[Key, Stats]:
        resolution = self._resolution(since)
        low = "-inf" if since is None else int(bucket_start(since, resolution).timestamp())
        starts = [int(s) for s in self.redis.zrangebyscore(f"{PREFIX}b:{resolution}", low, "+inf")]
        keys: list[tuple[str, str, str]] = []
        for start in starts:
            for raw in self.redis.smembers(f"{PREFIX}i:{resolution}:{start}"):
                member = raw.decode()
                fp, _, member_view = member.partition("|")
                if view is None or member_view == view:
                    keys.append((fp, member_view, f"{PREFIX}s:{resolution}:{start}:{member}"))
        pipe = self.redis.pipeline(transaction=False)
        for _, _, key in keys:
            pipe.hgetall(key)
        shapes = self.shapes({fp for fp, _, _ in keys})
        merged: dict[Key, Stats] = {}
        for (fp, member_view, _), raw in zip(keys, pipe.execute(), strict=True):
            if not raw:
                continue  # expired between the index read and the hash read
            data = {k.decode(): v.decode() for k, v in raw.items()}
            sql, alias = shapes.get(fp, ("(unknown)", "default"))
            row = {
                "calls": data["calls"],
                "total_ms": data["total_ms"],
                "slow": data["slow"],
                "min_ms": data["min_ms"],
                "max_ms": data["max_ms"],
                "histogram": {k[1:]: int(v) for k, v in data.items() if k.startswith("h")},
            }
            stats = Stats.from_row(Fingerprint(fp, sql), alias, row)
            if (fp, member_view) in merged:
                merged[(fp, member_view)].merge(stats)
            else:
                merged[(fp, member_view)] = stats
        return merged

    def shapes(self, fingerprints: Iterable[str]) -> dict[str, tuple[str, str]]:
        wanted = list(fingerprints)
        if not wanted:
            return {}
        values = self.redis.hmget(f"{PREFIX}shapes", wanted)
        return {
            fp: tuple(json.loads(v)) for fp, v in zip(wanted, values, strict=True) if v is not None
        }

    def slow_queries(
        self, since: datetime.datetime | None, view: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        floor = since.timestamp() if since else 0.0
        samples = [json.loads(v) for v in self.redis.lrange(f"{PREFIX}slow", 0, 999)]
        chosen = [
            {**s, "at": datetime.datetime.fromtimestamp(s["at"], tz=datetime.UTC).isoformat()}
            for s in samples
            if s["at"] >= floor and (view is None or s["view"] == view)
        ]
        for s in chosen:
            s.pop("sql", None)
        return sorted(chosen, key=lambda s: -s["duration_ms"])[:limit]

    def findings(
        self, since: datetime.datetime | None, view: str | None = None
    ) -> list[dict[str, Any]]:
        floor = since.timestamp() if since else "-inf"
        keys = self.redis.zrangebyscore(f"{PREFIX}np", floor, "+inf")
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        out = []
        for raw in pipe.execute():
            if not raw:
                continue
            data = {k.decode(): v.decode() for k, v in raw.items()}
            payload = json.loads(data["payload"])
            if view is not None and payload["view"] != view:
                continue
            out.append(
                {
                    **{
                        k: payload[k]
                        for k in (
                            "fingerprint",
                            "view",
                            "call_site",
                            "sql",
                            "alias",
                            "hint",
                            "stack",
                        )
                    },
                    "occurrences": int(data["occurrences"]),
                    "max_count": int(data["max_count"]),
                    "total_ms": float(data["total_ms"]),
                    "first_seen": _iso(data["first_seen"]),
                    "last_seen": _iso(data["last_seen"]),
                }
            )
        return sorted(out, key=lambda f: -f["total_ms"])

    def processes(self, since: datetime.datetime | None) -> dict[str, int]:
        floor = since.timestamp() if since else 0.0
        flushes = [json.loads(v) for v in self.redis.lrange(f"{PREFIX}flushes", 0, 9999)]
        chosen = [f for f in flushes if f["at"] >= floor]
        return {
            "flushes": len(chosen),
            "processes": len({(f["host"], f["pid"]) for f in chosen}),
            "evictions": sum(f["evictions"] for f in chosen),
        }


def _iso(timestamp: str) -> str:
    return datetime.datetime.fromtimestamp(float(timestamp), tz=datetime.UTC).isoformat()

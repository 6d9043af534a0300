"""``TwoTierCache``: a Django cache backend with an in-process L1 in front of Redis (L2).

Configure it in ``CACHES`` with the L2 alias (a django-redis or Django ``RedisCache``)
in its OPTIONS; see docs/cache.md. Every write goes to Redis and publishes an
invalidation so other processes drop their L1 copy; with ``ACK_INVALIDATIONS`` (the
default) it returns once every process holding an L1 lease has (``leases.py``). When
Redis fails, reads miss and writes are dropped (as django-redis's ``IGNORE_EXCEPTIONS``),
L1 is cleared and not used until the invalidation channel is back, and the breaker keeps
each call fast; no Redis exception reaches the caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from functools import cached_property
from typing import Any

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

from django_dbopt.cache import leases
from django_dbopt.cache.announce import announced
from django_dbopt.cache.codec import CodecError
from django_dbopt.cache.l2 import Client, L2Down
from django_dbopt.cache.options import TwoTierOptions
from django_dbopt.cache.shared import state_for
from django_dbopt.cache.state import CacheState, Config


class TwoTierCache(BaseCache):
    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = TwoTierOptions.from_options(params.get("OPTIONS", {}))
        self._config = Config(namespace=location or "default", options=options)

    @cached_property
    def state(self) -> CacheState:
        return state_for(self._config)

    # -- helpers -----------------------------------------------------------------------
    def _ttl(self, timeout: Any) -> float | None:
        """Seconds to live (``<= 0``: expire now), ``None``: forever."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else float(timeout)

    @staticmethod
    def _px(ttl: float | None) -> int | None:
        return None if ttl is None else max(1, int(ttl * 1000))

    def _remember(self, key: str, blob: bytes, pttl_ms: int, seq: int) -> None:
        """Put a value read from Redis in L1, unless an invalidation overtook the read."""
        st = self.state
        if st.seq == seq and st.l1_on:
            st.l1.set(key, blob, None if pttl_ms < 0 else pttl_ms / 1000)

    def _decoded(self, blob: bytes, default: Any) -> tuple[bool, Any]:
        """``(True, value)``, or ``(False, default)`` for a value refused by the codec
        (not signed, corrupt, over ``MAX_VALUE_BYTES``): counted, and a miss."""
        try:
            return True, self.state.codec.loads(blob)
        except CodecError:
            self.state.stats.add("l2.refused")
            return False, default

    # -- the Django cache API ----------------------------------------------------------
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        st = self.state
        if st.l1_on:
            blob = st.l1.get(key)
            if blob is not None:
                st.stats.add("l1.hits")
                return self._decoded(blob, default)[1]
            st.stats.add("l1.misses")
        seq = st.seq

        def read(c: Client) -> list[Any]:
            return c.pipeline(transaction=False).get(key).pttl(key).execute()

        try:
            blob, pttl = st.tier.run(read)
        except L2Down:
            return default
        if blob is None:
            st.stats.add("l2.misses")
            return default
        st.stats.add_many(["l2.hits"])
        st.stats.add("l2.bytes_read", len(blob))
        ok, value = self._decoded(blob, default)
        if ok:
            self._remember(key, blob, pttl, seq)
        return value

    def _write(self, key: str, value: Any, ttl: float | None, *, nx: bool = False) -> bool:
        st = self.state
        blob = st.codec.dumps(value)
        if st.local:
            return st.l1.set(key, blob, ttl, capped=False, nx=nx)
        st.l1.delete(key)
        try:
            stored = bool(
                announced(
                    self.state,
                    "K",
                    [key],
                    lambda pipe: pipe.set(key, blob, px=self._px(ttl), nx=nx),
                )[0]
            )
        except L2Down:
            return False
        if stored:
            st.stats.add("l2.sets")
            st.stats.add("l2.bytes_written", len(blob))
            if st.l1_on:
                st.l1.set(key, blob, ttl)
        return stored

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl(timeout)
        if ttl is not None and ttl <= 0:
            self._delete([key])
            return
        self._write(key, value, ttl)

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl(timeout)
        if ttl is not None and ttl <= 0:  # Django: "added", but not kept
            if self.state.local:
                return self.state.l1.get(key) is None
            try:
                return not self.state.tier.run(lambda c: c.exists(key))
            except L2Down:
                return False
        return self._write(key, value, ttl, nx=True)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        st = self.state
        ttl = self._ttl(timeout)

        def touch(pipe: Any) -> None:
            if ttl is None:
                pipe.persist(key).exists(key)
            elif ttl <= 0:
                pipe.delete(key)
            else:
                pipe.pexpire(key, self._px(ttl))

        if st.local:
            return self._local_touch(key, ttl)
        st.l1.delete(key)
        try:
            result = announced(self.state, "K", [key], touch)
        except L2Down:
            return False
        return bool(result[1] if ttl is None else result[0])

    def _local_touch(self, key: str, ttl: float | None) -> bool:
        st = self.state
        blob = st.l1.get(key)
        if blob is None:
            return False
        if ttl is not None and ttl <= 0:
            st.l1.delete(key)
        else:
            st.l1.set(key, blob, ttl, capped=False)
        return True

    def _delete(self, keys: list[str]) -> int:
        st = self.state
        if st.local:
            return sum(st.l1.delete(k) for k in keys)
        st.l1.delete_many(keys)
        try:
            deleted = int(announced(self.state, "K", keys, lambda pipe: pipe.delete(*keys))[0])
        except L2Down:
            return 0
        st.l1.delete_many(keys)
        st.stats.add("l2.deletes", deleted)
        return deleted

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._delete([self.make_and_validate_key(key, version=version)]) > 0

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        made = [self.make_and_validate_key(k, version=version) for k in keys]
        if made:
            self._delete(made)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        st = self.state
        if st.l1_on and st.l1.get(key) is not None:
            return True
        try:
            return bool(st.tier.run(lambda c: c.exists(key)))
        except L2Down:
            return False

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        made = {self.make_and_validate_key(k, version=version): k for k in keys}
        st = self.state
        found: dict[Any, Any] = {}
        wanted = list(made)
        if st.l1_on:
            wanted = []
            for key in made:
                blob = st.l1.get(key)
                if blob is None:
                    wanted.append(key)
                else:
                    ok, value = self._decoded(blob, None)
                    if ok:
                        found[made[key]] = value
            st.stats.add("l1.hits", len(found))
            st.stats.add("l1.misses", len(wanted))
        if not wanted:
            return found
        seq = st.seq

        def read(c: Client) -> list[Any]:
            pipe = c.pipeline(transaction=False)
            pipe.mget(wanted)
            for key in wanted:
                pipe.pttl(key)
            return pipe.execute()

        try:
            blobs, *pttls = st.tier.run(read)
        except L2Down:
            return found
        for key, blob, pttl in zip(wanted, blobs, pttls, strict=True):
            if blob is None:
                st.stats.add("l2.misses")
                continue
            st.stats.add("l2.hits")
            st.stats.add("l2.bytes_read", len(blob))
            ok, value = self._decoded(blob, None)
            if ok:
                self._remember(key, blob, pttl, seq)
                found[made[key]] = value
        return found

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        if not data:
            return []
        ttl = self._ttl(timeout)
        made = {self.make_and_validate_key(k, version=version): v for k, v in data.items()}
        if ttl is not None and ttl <= 0:
            self._delete(list(made))
            return []
        st = self.state
        blobs = {k: st.codec.dumps(v) for k, v in made.items()}
        if st.local:
            return [
                data_key
                for key, data_key in zip(made, data, strict=True)
                if not st.l1.set(key, blobs[key], ttl, capped=False)
            ]
        st.l1.delete_many(made)

        def write(pipe: Any) -> None:
            for key, blob in blobs.items():
                pipe.set(key, blob, px=self._px(ttl))

        try:
            announced(self.state, "K", list(made), write)
        except L2Down:
            return list(data)
        st.stats.add("l2.sets", len(blobs))
        st.stats.add("l2.bytes_written", sum(map(len, blobs.values())))
        if st.l1_on:
            for key, blob in blobs.items():
                st.l1.set(key, blob, ttl)
        return []

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        st = self.state
        if st.local:
            return self._local_incr(key, delta)
        st.l1.delete(key)
        ack = st.new_ack()
        args = [delta, st.channel, st.message("K", [key], ack), ack]
        try:
            value, *wait = st.tier.script(
                "incr",
                [key, st.leases_key, st.up_key],
                [*args, st.quarantine_ms, st.lease_ms],
            )
        except redis.ResponseError as e:
            raise TypeError(f"cached value of {key!r} is not an integer") from e
        except L2Down as e:
            raise ValueError(f"Key '{key}' not found (cache unavailable)") from e
        st.invalidated()
        st.l1.delete(key)
        if value is None:
            raise ValueError(f"Key '{key}' not found")
        leases.await_acks(st, ack, *wait)
        return int(value)

    def decr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self.incr(key, -delta, version)

    def _local_incr(self, key: str, delta: int) -> int:
        try:
            value = self.state.l1.incr(key, delta)
        except ValueError as e:
            raise TypeError(f"cached value of {key!r} is not an integer") from e
        if value is None:
            raise ValueError(f"Key '{key}' not found")
        return value

    def clear(self) -> None:
        """Empty the L2 Redis database (as Django's ``RedisCache.clear``) and every L1."""
        self.clear_tiers()

    def clear_tiers(self) -> dict[str, bool | None]:
        """``clear()``, saying what was cleared: ``{"l1": True, "l2": True}`` (L2 emptied
        and every process told), ``"l2": False`` (Redis unreachable: only this process's
        L1 was cleared) or ``"l2": None`` (L1-only mode: there is no L2)."""
        st = self.state
        st.l1.clear()
        st.local_gens.clear()
        if st.local:
            st.invalidated()
            return {"l1": True, "l2": None}
        ack = st.new_ack()
        reached = False
        with contextlib.suppress(L2Down):  # L2 unreachable: L1 is still cleared below
            wait = st.tier.script(
                "clear",
                [st.leases_key, st.up_key],
                [st.channel, st.message("c", (), ack), ack, st.quarantine_ms, st.lease_ms],
            )
            reached = True
            st.invalidated()
            leases.await_acks(st, ack, *wait)
        st.l1.clear()
        st.local_gens.clear()
        return {"l1": True, "l2": reached}

"""The first tier: an in-process LRU of bytes, bounded in bytes (not entries), with a TTL.

Thread-safe (one lock; every operation is O(1)). Values are the codec's bytes, so what a
caller gets back is always a fresh object. An entry's cost is its key and value lengths
plus a fixed ``OVERHEAD`` for the bookkeeping, so a flood of tiny values is bounded too.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

#: bytes charged per entry on top of its key and value (dict slot, tuple, float)
OVERHEAD = 100


class ByteLRU:
    def __init__(
        self,
        max_bytes: int,
        default_ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.default_ttl = default_ttl
        self._clock = clock
        self._lock = threading.Lock()
        #: key -> (value, expires_at (monotonic), cost)
        self._data: OrderedDict[str, tuple[bytes, float, int]] = OrderedDict()
        self._bytes = 0
        self.evictions = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[1] <= self._clock():
                self._drop(key)
                return None
            self._data.move_to_end(key)
            return entry[0]

    def set(
        self,
        key: str,
        value: bytes,
        ttl: float | None = None,
        *,
        capped: bool = True,
        nx: bool = False,
    ) -> bool:
        """Store ``value``; ``ttl`` (seconds) is capped at the L1 TTL unless ``capped`` is
        False (L1-only mode's plain keys: ``None`` is then forever). ``nx``: only if the
        key is absent. False if not stored (too big, or present with ``nx``)."""
        if not self.enabled:
            return False
        if capped:
            life = self.default_ttl if ttl is None else min(ttl, self.default_ttl)
        else:
            life = math.inf if ttl is None else ttl
        cost = len(key) + len(value) + OVERHEAD
        with self._lock:
            if key in self._data:
                if nx and self._data[key][1] > self._clock():
                    return False
                self._drop(key)
            if life <= 0 or cost > self.max_bytes:
                return False
            self._data[key] = (value, self._clock() + life, cost)
            self._bytes += cost
            while self._bytes > self.max_bytes:
                oldest = next(iter(self._data))
                self._drop(oldest)
                self.evictions += 1
            return True

    def incr(self, key: str, delta: int) -> int | None:
        """Add ``delta`` to the integer stored (as digits) at ``key``, keeping its expiry;
        None if absent. Raises ``ValueError`` if the value is not an integer."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None or entry[1] <= self._clock():
                return None
            value = int(entry[0]) + delta
            blob = str(value).encode()
            self._drop(key)
            cost = len(key) + len(blob) + OVERHEAD
            self._data[key] = (blob, entry[1], cost)
            self._bytes += cost
            return value

    def expiry(self, key: str) -> float | None:
        """Seconds ``key`` has left (``inf``: forever), None if absent."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            left = entry[1] - self._clock()
            return left if left > 0 else None

    def delete(self, key: str) -> bool:
        with self._lock:
            if key in self._data:
                self._drop(key)
                return True
            return False

    def delete_many(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                if key in self._data:
                    self._drop(key)

    def delete_prefix(self, prefix: str) -> int:
        """Drop every key starting with ``prefix`` (O(n); used for rare, coarse events)."""
        with self._lock:
            doomed = [k for k in self._data if k.startswith(prefix)]
            for key in doomed:
                self._drop(key)
            return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def _drop(self, key: str) -> None:
        _, _, cost = self._data.pop(key)
        self._bytes -= cost

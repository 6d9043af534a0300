"""A memo keyed by SQL text, bounded by the bytes it holds, not by its entry count.

SQL strings differ wildly in size (an ``IN`` list of 4,096 placeholders is ~20 KiB), so
a count-bounded ``functools.lru_cache`` of 8,192 entries can hold hundreds of MiB. A hit
is one ``dict.get`` (no reordering, no lock: the hot path stays as cheap as
``lru_cache``'s); when a new entry takes the total over ``max_bytes``, the oldest entries
are dropped (first in, first out) until it fits again. An entry bigger than a quarter of
the budget is computed and returned but never kept.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

#: per-entry bookkeeping beyond the key and value objects (dict slot, size record)
ENTRY_OVERHEAD = 120


class SqlMemo(Generic[V]):
    def __init__(
        self, compute: Callable[[str], V], max_bytes: int, size: Callable[[V], int]
    ) -> None:
        self.compute = compute
        self.max_bytes = max_bytes
        self.size = size
        self.bytes = 0
        self._data: dict[str, V] = {}
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, sql: str) -> V:
        value = self._data.get(sql)
        if value is None:
            value = self._add(sql)
        return value

    def _add(self, sql: str) -> V:
        value = self.compute(sql)
        cost = sys.getsizeof(sql) + self.size(value) + ENTRY_OVERHEAD
        if cost > self.max_bytes // 4:
            return value
        with self._lock:
            if sql in self._sizes:
                return value
            while self._sizes and self.bytes + cost > self.max_bytes:
                oldest = next(iter(self._sizes))
                self.bytes -= self._sizes.pop(oldest)
                self._data.pop(oldest, None)
            self._sizes[sql] = cost
            self._data[sql] = value
            self.bytes += cost
        return value

    def cache_clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._sizes.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._data)

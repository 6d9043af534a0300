"""A memo keyed by SQL text, bounded by the bytes it holds, not by its entry count.

SQL strings differ wildly in size (an ``IN`` list of 4,096 placeholders is ~20 KiB), so
a count-bounded ``functools.lru_cache`` of 8,192 entries can hold hundreds of MiB. This
memo is a ``dict`` subclass called like a function: a hit is ``dict.__getitem__`` (C
code, no Python frame: as cheap as ``lru_cache``'s hit, with no reordering and no lock);
a miss (``__missing__``) computes the value, and when the new entry takes the total over
``max_bytes`` the oldest entries are dropped (first in, first out) until it fits. An
entry bigger than a quarter of the budget is computed and returned but never kept.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

#: per-entry bookkeeping beyond the key and value objects (the dict slot)
ENTRY_OVERHEAD = 100


class SqlMemo(dict[str, V], Generic[V]):
    __call__ = dict.__getitem__

    def __init__(
        self, compute: Callable[[str], V], max_bytes: int, size: Callable[[V], int]
    ) -> None:
        super().__init__()
        self.compute = compute
        self.max_bytes = max_bytes
        self.size = size
        self.bytes = 0
        self._lock = threading.Lock()

    def _cost(self, sql: str, value: V) -> int:
        return sys.getsizeof(sql) + self.size(value) + ENTRY_OVERHEAD

    def __missing__(self, sql: str) -> V:
        value = self.compute(sql)
        cost = self._cost(sql, value)
        if cost > self.max_bytes // 4:
            return value
        with self._lock:
            if sql in self:
                return value
            while self and self.bytes + cost > self.max_bytes:
                oldest = next(iter(self))
                self.bytes -= self._cost(oldest, dict.pop(self, oldest))
            dict.__setitem__(self, sql, value)
            self.bytes += cost
        return value

    def cache_clear(self) -> None:
        with self._lock:
            self.clear()
            self.bytes = 0

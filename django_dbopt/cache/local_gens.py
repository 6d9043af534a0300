"""A process's map of table and tag generations (``CacheState.local_gens``), bounded.

Under an L1 lease, cached reads take their generations from this map instead of asking
Redis (``generations.py``); invalidation messages and reads raise its values.
"""

from __future__ import annotations

import itertools
import threading

#: generation keys (tables, tags) kept in a process's local map, at most
MAX_LOCAL_GENS = 10_000


class LocalGenerations:
    """The local generation map of a ``CacheState`` (a mixin: the state owns the dict)."""

    #: generation key -> value, bounded (``MAX_LOCAL_GENS``): a key missing from it is
    #: read from Redis again (or, in L1-only mode, seeded above every value it had)
    local_gens: dict[str, str]
    _gens_lock: threading.Lock

    def raise_generation(self, key: str, value: str) -> None:
        """Keep ``value`` as the local generation of ``key`` unless a higher one is held
        (generations only go up; messages and reads may arrive in any order). The map is
        bounded: past ``MAX_LOCAL_GENS`` keys the oldest are dropped, and a dropped key is
        simply unknown again (read from Redis on next use: a miss, never a stale hit)."""
        gens = self.local_gens
        held = gens.get(key)
        if held is None:
            if len(gens) >= MAX_LOCAL_GENS:
                self._trim_gens()
            gens[key] = value
        elif int(value) > int(held):
            gens[key] = value

    def _trim_gens(self) -> None:
        """Drop the oldest tenth of the local generations (insertion order)."""
        with self._gens_lock:
            gens = self.local_gens
            excess = len(gens) - MAX_LOCAL_GENS + max(1, MAX_LOCAL_GENS // 10)
            if excess <= 0:
                return
            try:
                doomed = list(itertools.islice(iter(gens), excess))
            except RuntimeError:  # changed while we looked: start from nothing (safe)
                gens.clear()
                return
            for key in doomed:
                gens.pop(key, None)

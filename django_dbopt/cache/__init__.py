"""Two-tier cache: in-process L1 + Redis L2, coherent across processes, ORM caching.

Public names: ``TwoTierCache`` (the backend for ``CACHES``), ``stats()`` (measured
counters per tier and table), ``invalidate_tables()``, ``invalidate_tags()``, ``cached``
(the decorator). See docs/cache.md.
"""

from __future__ import annotations

from django_dbopt.cache.backend import TwoTierCache

__all__ = ["TwoTierCache"]

"""Two-tier cache: in-process L1 + Redis L2, coherent across processes, ORM caching.

Public names (see docs/cache.md):

- ``TwoTierCache``: the cache backend for ``CACHES``;
- ``cached``, ``cache_queryset``: cache a function's or a queryset's result with tags
  and tables; ``invalidate_tags()``, ``invalidate_tables()``;
- ``stats()``: measured counters per tier and per table (for dashboards and exporters).
"""

from __future__ import annotations

from django_dbopt.cache.backend import TwoTierCache
from django_dbopt.cache.decorators import cache_queryset, cached, invalidate_tags
from django_dbopt.cache.report import stats
from django_dbopt.cache.writes import invalidate_tables

__all__ = [
    "TwoTierCache",
    "cache_queryset",
    "cached",
    "invalidate_tables",
    "invalidate_tags",
    "stats",
]

"""Two-tier cache: in-process L1 + Redis L2, coherent across processes, ORM caching.

Public names (see docs/cache.md):

- ``TwoTierCache``: the cache backend for ``CACHES``;
- ``cached``, ``cache_queryset``: cache a function's or a queryset's result with tags
  and tables; ``invalidate_tags()``, ``invalidate_tables()``;
- ``stats()``: measured counters per tier and per table (for dashboards and exporters).

They are imported lazily, so that importing the package (the admin placeholder model)
does not need the ``redis`` extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_dbopt.cache.backend import TwoTierCache
    from django_dbopt.cache.decorators import cache_queryset, cached, invalidate_tags
    from django_dbopt.cache.report import stats
    from django_dbopt.cache.writes import invalidate_tables

_WHERE = {
    "TwoTierCache": "backend",
    "cache_queryset": "decorators",
    "cached": "decorators",
    "invalidate_tags": "decorators",
    "invalidate_tables": "writes",
    "stats": "report",
}

__all__ = [
    "TwoTierCache",
    "cache_queryset",
    "cached",
    "invalidate_tables",
    "invalidate_tags",
    "stats",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"django_dbopt.cache.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'django_dbopt.cache' has no attribute {name!r}")

"""Connection pool manager: Django's own psycopg pool made fork-safe, measured, leak-checked.

Use the ``django_dbopt.pool.postgresql`` engine with ``OPTIONS["pool"]`` (docs/pool.md).
Read numbers with ``django_dbopt.pool.stats.pool_stats(alias)`` / ``all_pool_stats()``.
After changing session state behind Django's back, call ``mark_dirty(alias)``.
"""

from __future__ import annotations

from django_dbopt.pool.session import mark_dirty

__all__ = ["mark_dirty"]

"""Admin pages (staff only). Each part registers its pages in its own ``admin`` module,
imported here so that Django's admin autodiscovery finds it."""

from __future__ import annotations

from django_dbopt.backup import admin as backup_admin  # noqa: F401
from django_dbopt.benchmark import admin as benchmark_admin  # noqa: F401
from django_dbopt.cache import admin as cache_admin  # noqa: F401
from django_dbopt.monitor import admin as monitor_admin  # noqa: F401
from django_dbopt.ops import admin as ops_admin  # noqa: F401
from django_dbopt.pool import admin as pool_admin  # noqa: F401
from django_dbopt.routing import admin as routing_admin  # noqa: F401

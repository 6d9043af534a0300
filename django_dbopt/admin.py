"""Admin pages (staff only). Each part registers its pages in its own ``admin`` module,
imported here so that Django's admin autodiscovery finds it."""

from __future__ import annotations

from django_dbopt.cache import admin as cache_admin  # noqa: F401

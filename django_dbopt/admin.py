"""Admin pages (staff only). Each part registers its pages in its own ``admin`` module,
imported here so that Django's admin autodiscovery finds it."""

from __future__ import annotations

from django_dbopt.monitor import admin as monitor_admin  # noqa: F401

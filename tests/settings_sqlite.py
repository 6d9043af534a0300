"""Settings for the smaller SQLite run: the embedded default, no PostgreSQL, no Redis."""

from __future__ import annotations

from tests.settings_base import *  # noqa: F403

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

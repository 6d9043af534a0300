"""Settings for the PostgreSQL + replica + Redis test run.

Hosts and ports are filled in by ``tests/conftest.py`` once the services are up (see
``tests/services.py``); nothing here starts anything.
"""

from __future__ import annotations

from tests.settings_base import *  # noqa: F403

_PG = {
    "ENGINE": "django.db.backends.postgresql",
    "HOST": "127.0.0.1",
    "PORT": "",
    "USER": "postgres",
    "PASSWORD": "",
    "CONN_MAX_AGE": 0,
}

DATABASES = {
    "default": {**_PG, "NAME": "dbopt", "TEST": {"NAME": "test_dbopt"}},
    # The streaming standby of "default". Django's test runner must neither create nor
    # flush a database on it (it is read-only), so it is flagged as a mirror for the
    # runner's bookkeeping; conftest.py then points it back at the standby itself, where
    # it reads the primary's test database through real replication.
    # A short connect_timeout, as docs/routing.md asks of every replica (check W022).
    "replica": {
        **_PG,
        "NAME": "test_dbopt",
        "TEST": {"MIRROR": "default"},
        "OPTIONS": {"connect_timeout": 2},
    },
}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "",  # filled in by conftest.py
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    },
}

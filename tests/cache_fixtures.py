"""Settings and helpers shared by the cache tests (``tests/test_cache_*.py``)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

from tests.services import ENV_REDIS


def redis_url() -> str:
    return os.environ.get(ENV_REDIS) or str(settings.CACHES["redis"]["LOCATION"])


def caches_setting(**options: Any) -> dict[str, Any]:
    """CACHES with a TwoTierCache as ``default`` over the suite's Redis as ``redis``."""
    redis_alias = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": redis_url(),
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    }
    base = {"BACKEND": "django_dbopt.cache.TwoTierCache", "LOCATION": "tests"}
    opts = {"L2": "redis", **options}
    return {
        "default": {**base, "OPTIONS": opts},
        "prefix": {**base, "KEY_PREFIX": f"cacheprefix{os.getpid()}", "OPTIONS": opts},
        "v2": {**base, "VERSION": 2, "OPTIONS": opts},
        "redis": redis_alias,
    }


def orm_settings(models: list[str] | None = None, **cache: Any) -> dict[str, Any]:
    """DBOPT turning ORM caching on for ``models`` (default: the demo app)."""
    section = {"ORM_MODELS": ["demo"] if models is None else models, **cache}
    return {
        "CACHE": section,
        "ROUTING": {"REPLICAS": {"default": {"replica": 1}}},
    }

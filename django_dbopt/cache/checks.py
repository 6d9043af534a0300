"""System checks of the two-tier cache's configuration (ids ``django_dbopt.E030``-``E039``,
``W030``-``W039``; listed in docs/checks.md). No connection is opened here.

``TwoTierCache``'s ``OPTIONS`` are checked against their one definition
(``options.TwoTierOptions``) by ``validation.find_option_problems``; ``DBOPT['CACHE']``
is read through ``conf.get_config()``.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_dbopt.cache.codec import SERIALIZERS, available
from django_dbopt.cache.options import CODECS, TwoTierOptions
from django_dbopt.conf import SETTING_NAME, CacheSettings, get_config
from django_dbopt.validation import find_option_problems

BACKEND = "django_dbopt.cache.TwoTierCache"
REDIS_BACKENDS = (
    "django_redis.cache.RedisCache",
    "django.core.cache.backends.redis.RedisCache",
)
_DEFAULTS = TwoTierOptions()


def _caches() -> dict[str, Any]:
    configured: dict[str, Any] = settings.CACHES
    return configured


def _two_tier_caches() -> dict[str, dict[str, Any]]:
    return {a: c for a, c in _caches().items() if c.get("BACKEND") == BACKEND}


def _check_options(alias: str, config: dict[str, Any]) -> list[CheckMessage]:
    options = config.get("OPTIONS", {})
    where = f"CACHES[{alias!r}]['OPTIONS']"
    problems = find_option_problems(
        options,
        TwoTierOptions,
        where=where,
        problem_id="django_dbopt.E034",
        hint="See the TwoTierCache options in docs/cache.md.",
    )
    messages: list[CheckMessage] = [Error(p.msg, hint=p.hint, id=p.id) for p in problems]
    messages.extend(_check_quarantine(where, options))
    messages.extend(_check_codec(where, options))
    messages.extend(_check_serializer(where, options))
    l2 = options.get("L2", _DEFAULTS.l2)
    if l2 is None:
        messages.extend(_check_l1_only(where, options))
        return messages
    target = _caches().get(l2) if isinstance(l2, str) else None
    if target is None or target.get("BACKEND") not in REDIS_BACKENDS:
        messages.append(
            Error(
                f"{where}['L2'] is {l2!r}, which is not a Redis cache alias in CACHES.",
                hint="Name a django-redis (django_redis.cache.RedisCache) or Django "
                "RedisCache alias; it holds the second tier and the invalidation channel.",
                id="django_dbopt.E031",
            )
        )
    return messages


def _check_quarantine(where: str, options: dict[str, Any]) -> list[CheckMessage]:
    quarantine = options.get("RESTART_QUARANTINE", _DEFAULTS.restart_quarantine)
    lease = options.get("L1_LEASE", _DEFAULTS.l1_lease)
    numbers = (int, float)
    if isinstance(quarantine, numbers) and isinstance(lease, numbers) and 0 < quarantine < lease:
        return [
            Error(
                f"{where}['RESTART_QUARANTINE'] ({quarantine}) is shorter than "
                f"{where}['L1_LEASE'] ({lease}).",
                hint="After a Redis restart, leases granted by the old Redis may run for "
                "one L1_LEASE; the quarantine must cover it (or be 0: no restart "
                "protection).",
                id="django_dbopt.E036",
            )
        ]
    return []


def _check_codec(where: str, options: dict[str, Any]) -> list[CheckMessage]:
    codec = options.get("CODEC", _DEFAULTS.codec)
    if isinstance(codec, str) and codec not in CODECS:
        return [
            Error(
                f"{where}['CODEC'] is {codec!r}.",
                hint=f"Use one of: {', '.join(CODECS)}.",
                id="django_dbopt.E034",
            )
        ]
    if codec == "zstd" and not available("zstd"):
        return [
            Warning(
                f"{where}['CODEC'] is 'zstd' but zstandard is not installed; "
                "values are compressed with zlib instead.",
                hint="pip install 'django-dbopt[compression]', or set CODEC to 'zlib'.",
                id="django_dbopt.W030",
            )
        ]
    return []


def _check_serializer(where: str, options: dict[str, Any]) -> list[CheckMessage]:
    serializer = options.get("SERIALIZER", _DEFAULTS.serializer)
    if isinstance(serializer, str) and serializer not in SERIALIZERS:
        return [
            Error(
                f"{where}['SERIALIZER'] is {serializer!r}.",
                hint=f"Use one of: {', '.join(SERIALIZERS)} (docs/cache.md, 'Trust model').",
                id="django_dbopt.E034",
            )
        ]
    if serializer == "signed" and not options.get("SIGNING_KEY") and not settings.SECRET_KEY:
        return [
            Error(
                f"{where}['SERIALIZER'] is 'signed' but there is no key to sign with: "
                "SIGNING_KEY is not set and SECRET_KEY is empty.",
                hint="Set SECRET_KEY, or OPTIONS['SIGNING_KEY'] to a long random secret "
                "shared by every process using this cache.",
                id="django_dbopt.E038",
            )
        ]
    return []


def _check_l1_only(where: str, options: dict[str, Any]) -> list[CheckMessage]:
    if options.get("L1_MAX_BYTES", 1) == 0:  # unset: the default, far from 0
        return [
            Error(
                f"{where}['L2'] is None (L1-only mode) and L1_MAX_BYTES is 0: "
                "nothing can be cached.",
                hint="Give L1 some memory (L1_MAX_BYTES), or name a Redis alias in L2.",
                id="django_dbopt.E037",
            )
        ]
    return []


def _cache_settings() -> CacheSettings | None:
    try:
        return get_config().cache
    except ImproperlyConfigured:
        return None  # reported by check_settings


def check_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for alias, config in _two_tier_caches().items():
        messages.extend(_check_options(alias, config))
    section = _cache_settings()
    if section is not None:
        messages.extend(_check_cache_section(section))
    return messages


def _check_cache_section(section: CacheSettings) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    used = {
        "ORM_MODELS": section.orm_models,
        "TRACK_MODELS": section.track_models,
        "WARM": section.warm,
        "PRELOAD_ON_LOGIN": section.preload_on_login,
    }
    uses = [key for key, value in used.items() if value]
    alias = section.cache
    if uses and _caches().get(alias, {}).get("BACKEND") != BACKEND:
        messages.append(
            Error(
                f"{SETTING_NAME}['CACHE'] sets {', '.join(uses)} but CACHES[{alias!r}] is not "
                "a TwoTierCache, so nothing is cached or invalidated.",
                hint=f"Point {SETTING_NAME}['CACHE']['CACHE'] at a cache whose BACKEND is "
                f"{BACKEND!r}.",
                id="django_dbopt.E030",
            )
        )
    for key in ("ORM_MODELS", "TRACK_MODELS"):
        messages.extend(_check_models(key, used[key]))
    messages.extend(_check_callables([*section.warm, *section.preload_on_login]))
    return messages


def _check_models(key: str, entries: list[str]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for entry in entries:
        try:
            if "." in entry:
                apps.get_model(entry)
            else:
                apps.get_app_config(entry)
        except (LookupError, ValueError):
            messages.append(
                Error(
                    f"{SETTING_NAME}['CACHE'][{key!r}] names {entry!r}, which is neither "
                    "an installed app label nor an app_label.ModelName.",
                    hint="Use an app label from INSTALLED_APPS or 'app_label.ModelName'.",
                    id="django_dbopt.E033",
                )
            )
    return messages


def _check_callables(paths: list[str]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for path in paths:
        try:
            func = import_string(path)
        except ImportError:
            func = None
        if not callable(func):
            messages.append(
                Error(
                    f"{SETTING_NAME}['CACHE'] (WARM / PRELOAD_ON_LOGIN) names {path!r}, which "
                    "is not an importable callable.",
                    hint="Give the dotted path of a function (WARM: f(using=alias); "
                    "PRELOAD_ON_LOGIN: f(user)).",
                    id="django_dbopt.E035",
                )
            )
    return messages

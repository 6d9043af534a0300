"""System checks of the two-tier cache's configuration (ids ``django_dbopt.E030``-``E039``,
``W030``-``W039``; listed in docs/checks.md). No connection is opened here."""

from __future__ import annotations

import math
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from django_dbopt.conf import SETTING_NAME
from django_dbopt.validation import find_problems

BACKEND = "django_dbopt.cache.TwoTierCache"
REDIS_BACKENDS = (
    "django_redis.cache.RedisCache",
    "django.core.cache.backends.redis.RedisCache",
)
#: OPTIONS key -> (type, smallest value) for TwoTierCache
OPTION_TYPES: dict[str, tuple[type, float | None]] = {
    "L2": (str, None),
    "L1_MAX_BYTES": (int, 0),
    "L1_TIMEOUT": (float, 0),
    "CODEC": (str, None),
    "COMPRESS_MIN_BYTES": (int, 0),
    "BREAKER_FAILURES": (int, 1),
    "BREAKER_RESET": (float, 0),
    "RESTART_QUARANTINE": (float, 0),
    "L1_LEASE": (float, 0.05),
    "ACK_INVALIDATIONS": (bool, None),
    "SERIALIZER": (str, None),
    "SIGNING_KEY": (str, None),
    "MAX_VALUE_BYTES": (int, 1024),
}
#: OPTIONS keys that may be None (L2: L1-only mode; SIGNING_KEY: from SECRET_KEY)
NULLABLE = frozenset({"L2", "SIGNING_KEY"})
CODECS = ("zstd", "zlib", "none")


def _caches() -> dict[str, Any]:
    configured: dict[str, Any] = settings.CACHES
    return configured


def _two_tier_caches() -> dict[str, dict[str, Any]]:
    return {a: c for a, c in _caches().items() if c.get("BACKEND") == BACKEND}


def _check_options(alias: str, config: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    options = config.get("OPTIONS", {})
    where = f"CACHES[{alias!r}]['OPTIONS']"
    for key, value in options.items():
        if key not in OPTION_TYPES:
            messages.append(
                Error(
                    f"{where} has an unknown key {key!r}.",
                    hint=f"Known keys: {', '.join(OPTION_TYPES)}.",
                    id="django_dbopt.E034",
                )
            )
            continue
        kind, minimum = OPTION_TYPES[key]
        if value is None and key in NULLABLE:
            continue
        if kind is bool:
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
            ok = ok and not isinstance(value, bool)
            # NaN passes every comparison with the minimum; infinity is no bound
            ok = ok and not (isinstance(value, float) and not math.isfinite(value))
        if not ok or (minimum is not None and value < minimum):
            low = f" >= {minimum}" if minimum is not None else ""
            if kind in (int, float):
                low = f" (finite){low}"
            messages.append(
                Error(
                    f"{where}[{key!r}] is {value!r}; expected {kind.__name__}{low}.",
                    hint="See the TwoTierCache options in docs/cache.md.",
                    id="django_dbopt.E034",
                )
            )
    quarantine, lease = options.get("RESTART_QUARANTINE", 3.0), options.get("L1_LEASE", 1.0)
    numbers = (int, float)
    if isinstance(quarantine, numbers) and isinstance(lease, numbers) and 0 < quarantine < lease:
        messages.append(
            Error(
                f"{where}['RESTART_QUARANTINE'] ({quarantine}) is shorter than "
                f"{where}['L1_LEASE'] ({lease}).",
                hint="After a Redis restart, leases granted by the old Redis may run for "
                "one L1_LEASE; the quarantine must cover it (or be 0: no restart "
                "protection).",
                id="django_dbopt.E036",
            )
        )
    codec = options.get("CODEC", "zstd")
    if isinstance(codec, str) and codec not in CODECS:
        messages.append(
            Error(
                f"{where}['CODEC'] is {codec!r}.",
                hint=f"Use one of: {', '.join(CODECS)}.",
                id="django_dbopt.E034",
            )
        )
    elif codec == "zstd":
        from django_dbopt.cache.codec import available

        if not available("zstd"):
            messages.append(
                Warning(
                    f"{where}['CODEC'] is 'zstd' but zstandard is not installed; "
                    "values are compressed with zlib instead.",
                    hint="pip install 'django-dbopt[compression]', or set CODEC to 'zlib'.",
                    id="django_dbopt.W030",
                )
            )
    messages.extend(_check_serializer(where, options))
    l2 = options.get("L2", "redis")
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


def _check_serializer(where: str, options: dict[str, Any]) -> list[CheckMessage]:
    from django_dbopt.cache.codec import SERIALIZERS

    serializer = options.get("SERIALIZER", "pickle")
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
    if options.get("L1_MAX_BYTES", 1) == 0:
        return [
            Error(
                f"{where}['L2'] is None (L1-only mode) and L1_MAX_BYTES is 0: "
                "nothing can be cached.",
                hint="Give L1 some memory (L1_MAX_BYTES), or name a Redis alias in L2.",
                id="django_dbopt.E037",
            )
        ]
    return []


def _user_cache_section() -> dict[str, Any]:
    user = getattr(settings, SETTING_NAME, {})
    if not isinstance(user, dict) or find_problems(user):
        return {}  # reported by check_settings
    section = user.get("CACHE", {})
    return section if isinstance(section, dict) else {}


def check_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for alias, config in _two_tier_caches().items():
        messages.extend(_check_options(alias, config))
    section = _user_cache_section()
    uses = [
        k for k in ("ORM_MODELS", "TRACK_MODELS", "WARM", "PRELOAD_ON_LOGIN") if section.get(k)
    ]
    alias = section.get("CACHE", "default")
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
        for entry in section.get(key, []):
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
    for path in [*section.get("WARM", []), *section.get("PRELOAD_ON_LOGIN", [])]:
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

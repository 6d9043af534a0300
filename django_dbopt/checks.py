"""System checks on the ``DBOPT`` setting (ids ``django_dbopt.E0xx`` / ``W0xx``).

Every id is listed in ``docs/checks.md``. Checks that would need a connection do nothing
unless ``databases`` is passed, as Django's own database checks do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from django_dbopt.conf import SETTING_NAME
from django_dbopt.validation import find_problems


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    user = getattr(settings, SETTING_NAME, {})
    problems = find_problems(
        user, databases=list(settings.DATABASES), caches=list(settings.CACHES)
    )
    return [Error(p.msg, hint=p.hint, id=p.id) for p in problems]


def check_installed(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    routers = [
        r if isinstance(r, str) else type(r).__module__ + "." + type(r).__name__
        for r in settings.DATABASE_ROUTERS
    ]
    user = getattr(settings, SETTING_NAME, {})
    routing = user.get("ROUTING") if isinstance(user, dict) else None
    replicas = routing.get("REPLICAS") if isinstance(routing, dict) else None
    if replicas and not any(r.endswith(".ReplicaRouter") for r in routers):
        messages.append(
            Warning(
                f"{SETTING_NAME}['ROUTING']['REPLICAS'] is set but ReplicaRouter is not in "
                "DATABASE_ROUTERS, so no read goes to a replica.",
                hint="Add 'django_dbopt.routing.ReplicaRouter' to DATABASE_ROUTERS.",
                id="django_dbopt.W001",
            )
        )
    return messages


# -- routing (django_dbopt.E020-E029 / W020-W029) ------------------------------------------
_ROUTER = "django_dbopt.routing.ReplicaRouter"
_RYW_MIDDLEWARE = "django_dbopt.routing.ReadYourWritesMiddleware"


def check_routing(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    user = getattr(settings, SETTING_NAME, {})
    routing = user.get("ROUTING") if isinstance(user, dict) else None
    replicas = routing.get("REPLICAS") if isinstance(routing, dict) else None
    if not isinstance(replicas, dict) or not replicas:
        return []
    messages: list[CheckMessage] = []
    aliases = [
        alias
        for primary, members in replicas.items()
        for alias in [primary, *(members if isinstance(members, dict) else {})]
    ]
    for alias in dict.fromkeys(aliases):
        engine = str(settings.DATABASES.get(alias, {}).get("ENGINE", ""))
        if alias in settings.DATABASES and not engine.endswith("postgresql"):
            messages.append(
                Error(
                    f"{SETTING_NAME}['ROUTING']['REPLICAS'] names {alias!r}, whose ENGINE "
                    f"is {engine!r}; replica routing needs PostgreSQL streaming replication.",
                    hint="Use django.db.backends.postgresql for primaries and replicas, or "
                    "remove the alias from ROUTING.REPLICAS.",
                    id="django_dbopt.E020",
                )
            )
    members = {
        alias
        for group in replicas.values()
        if isinstance(group, dict)
        for alias in group
        if str(settings.DATABASES.get(alias, {}).get("ENGINE", "")).endswith("postgresql")
    }
    for alias in sorted(members):
        messages.extend(_connect_timeout_warning(alias))
    middleware = list(settings.MIDDLEWARE)
    session = "django.contrib.sessions.middleware.SessionMiddleware"
    if (
        _RYW_MIDDLEWARE in middleware
        and session in middleware
        and middleware.index(_RYW_MIDDLEWARE) > middleware.index(session)
    ):
        messages.append(
            Warning(
                "ReadYourWritesMiddleware comes after SessionMiddleware: a session saved "
                "while the response goes out is written outside the request's routing "
                "scope, so the next request may read the session from a replica that has "
                "not replayed it yet (and miss what the view put in it).",
                hint="Move ReadYourWritesMiddleware above SessionMiddleware in MIDDLEWARE.",
                id="django_dbopt.W021",
            )
        )
    if _ROUTER in settings.DATABASE_ROUTERS and _RYW_MIDDLEWARE not in middleware:
        messages.append(
            Warning(
                "ReplicaRouter is on but ReadYourWritesMiddleware is not in MIDDLEWARE: a "
                "client's next request may read a replica that has not replayed its write.",
                hint=f"Add {_RYW_MIDDLEWARE!r} to MIDDLEWARE.",
                id="django_dbopt.W020",
            )
        )
    return messages


#: a replica's connect_timeout above this many seconds (or none) is warned about
MAX_REPLICA_CONNECT_TIMEOUT_S = 10


def _connect_timeout_warning(alias: str) -> list[CheckMessage]:
    options = cast("dict[str, Any]", settings.DATABASES[alias].get("OPTIONS") or {})
    value = options.get("connect_timeout")
    try:
        seconds = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        seconds = None
    if seconds is not None and 0 < seconds <= MAX_REPLICA_CONNECT_TIMEOUT_S:
        return []
    found = "has no connect_timeout" if value in (None, "") else f"has connect_timeout={value!r}"
    return [
        Warning(
            f"Replica alias {alias!r} {found}: a read routed to a replica that stopped answering "
            "waits for the operating system's TCP timeout (minutes) to open a connection, and "
            "the read watchdog (ROUTING.READ_TIMEOUT_S) does not cover connecting.",
            hint=f"Set DATABASES[{alias!r}]['OPTIONS']['connect_timeout'] to a few seconds "
            f"(1-{MAX_REPLICA_CONNECT_TIMEOUT_S}), e.g. 2.",
            id="django_dbopt.W022",
        )
    ]


# --- query monitor (E010-E019 / W010-W019) ---------------------------------------------
MONITOR_MIDDLEWARE = "django_dbopt.middleware.QueryMonitorMiddleware"


def check_monitor(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    user = getattr(settings, SETTING_NAME, {})
    monitor = user.get("MONITOR", {}) if isinstance(user, dict) else {}
    if not isinstance(monitor, dict) or find_problems(user):
        return []  # check_settings reports malformed settings
    messages: list[CheckMessage] = []
    store = monitor.get("STORE_CACHE")
    if store and store in settings.CACHES:
        cache_config: Any = settings.CACHES[store]
        backend = str(cache_config.get("BACKEND", ""))
        if not backend.startswith("django_redis."):
            messages.append(
                Error(
                    f"{SETTING_NAME}['MONITOR']['STORE_CACHE'] names the cache {store!r}, "
                    f"whose backend {backend!r} is not django-redis.",
                    hint="Point STORE_CACHE at a django_redis.cache.RedisCache alias, or "
                    "remove it to keep the monitor's aggregates in the database.",
                    id="django_dbopt.E010",
                )
            )
    explain_alias = monitor.get("EXPLAIN_DATABASE")
    if explain_alias and explain_alias in settings.DATABASES:
        engine = str(settings.DATABASES[explain_alias].get("ENGINE", ""))
        if not engine.endswith("postgresql"):
            messages.append(
                Error(
                    f"{SETTING_NAME}['MONITOR']['EXPLAIN_DATABASE'] names the database "
                    f"{explain_alias!r}, whose engine {engine!r} is not PostgreSQL.",
                    hint="Point EXPLAIN_DATABASE at a PostgreSQL alias that connects as a "
                    "low-privilege role (see docs/security.md), or remove it.",
                    id="django_dbopt.E021",
                )
            )
    if monitor.get("ENABLED", True) and MONITOR_MIDDLEWARE not in settings.MIDDLEWARE:
        messages.append(
            Warning(
                "The query monitor is enabled but QueryMonitorMiddleware is not in "
                "MIDDLEWARE: queries are captured, but not grouped per view, N+1s in "
                "requests go undetected and web processes never flush to the shared store.",
                hint=f"Add {MONITOR_MIDDLEWARE!r} near the top of MIDDLEWARE, or set "
                f"{SETTING_NAME}['MONITOR']['ENABLED'] = False.",
                id="django_dbopt.W010",
            )
        )
    return messages


def register_all() -> None:
    """Register every part's checks (from ``AppConfig.ready()``; registering twice is a
    no-op). Each part keeps its checks in its own ``checks.py``, as plain functions."""
    from django_dbopt.backup.checks import check_archive_command, check_backup_settings
    from django_dbopt.benchmark.checks import check_benchmark
    from django_dbopt.cache.checks import check_cache
    from django_dbopt.migration_lint.checks import check_migration_ignores
    from django_dbopt.ops.checks import check_alert_rules
    from django_dbopt.pool.checks import check_pool_settings, check_pools
    from django_dbopt.pool.compat import check_pool_internals

    by_tag: dict[str, list[Callable[..., list[CheckMessage]]]] = {
        Tags.compatibility: [
            check_settings,
            check_installed,
            check_routing,  # E020-E029 / W020-W029
            check_monitor,  # E010-E019 / W010-W019
            check_pools,  # E040-E049 / W040-W049
            check_pool_settings,
            check_pool_internals,
            check_migration_ignores,  # E050-E059
            check_backup_settings,  # E060-E069 / W060-W069
            check_benchmark,  # E070-E079
            check_alert_rules,  # E080-E082
        ],
        Tags.caches: [check_cache],  # E030-E039 / W030-W039
        Tags.database: [check_archive_command],
    }
    for tag, functions in by_tag.items():
        for function in functions:
            register(function, tag)

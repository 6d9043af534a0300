"""System checks on the ``DBOPT`` setting (ids ``django_dbopt.E0xx`` / ``W0xx``).

Every id is listed in ``docs/checks.md``. Checks that would need a connection do nothing
unless ``databases`` is passed, as Django's own database checks do.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from django_dbopt.conf import SETTING_NAME, find_problems


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    user = getattr(settings, SETTING_NAME, {})
    problems = find_problems(
        user, databases=list(settings.DATABASES), caches=list(settings.CACHES)
    )
    return [Error(p.msg, hint=p.hint, id=p.id) for p in problems]


@register(Tags.compatibility)
def check_installed(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    routers = [
        r if isinstance(r, str) else type(r).__module__ + "." + type(r).__name__
        for r in settings.DATABASE_ROUTERS
    ]
    routing = getattr(settings, SETTING_NAME, {})
    replicas = routing.get("ROUTING", {}).get("REPLICAS") if isinstance(routing, dict) else None
    if (
        replicas
        and isinstance(replicas, dict)
        and not any(r.endswith("ReplicaRouter") for r in routers)
    ):
        messages.append(
            Warning(
                f"{SETTING_NAME}['ROUTING']['REPLICAS'] is set but ReplicaRouter is not in "
                "DATABASE_ROUTERS, so no read goes to a replica.",
                hint="Add 'django_dbopt.routing.ReplicaRouter' to DATABASE_ROUTERS.",
                id="django_dbopt.W001",
            )
        )
    return messages


# Two-tier cache checks (E030-E039, W030-W039) live next to the cache.
from django_dbopt.cache import checks as _cache_checks  # noqa: E402, F401

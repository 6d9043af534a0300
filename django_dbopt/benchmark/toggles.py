"""Settings overrides the benchmark runs under: a part of django-dbopt on or off.

They use ``django.test.override_settings`` (a plain context manager that sends
``setting_changed``, which every part listens to), so turning a part off here is exactly
what a project would get by changing its settings.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import connections
from django.test.utils import override_settings

from django_dbopt.benchmark.models import ScratchAuthor, ScratchItem

SCRATCH_LABELS = [ScratchItem._meta.label, ScratchAuthor._meta.label]
ROUTER = "django_dbopt.routing.ReplicaRouter"


def dbopt_with(change: Callable[[dict[str, Any]], None]) -> override_settings:
    value = copy.deepcopy(getattr(settings, "DBOPT", {}))
    change(value)
    return override_settings(DBOPT=value)


def _orm_cache(enabled: bool) -> Callable[[dict[str, Any]], None]:
    def change(value: dict[str, Any]) -> None:
        section = value.setdefault("CACHE", {})
        models = [m for m in section.get("ORM_MODELS", []) if m not in SCRATCH_LABELS]
        section["ORM_MODELS"] = [*models, *SCRATCH_LABELS] if enabled else models

    return change


def orm_cache(enabled: bool = True) -> override_settings:
    """ORM caching of the scratch tables on (or off), the rest of ``DBOPT`` unchanged."""
    return dbopt_with(_orm_cache(enabled))


def monitor(enabled: bool) -> override_settings:
    def change(value: dict[str, Any]) -> None:
        value.setdefault("MONITOR", {})["ENABLED"] = enabled

    return dbopt_with(change)


def router(enabled: bool) -> override_settings:
    """The replica router in ``DATABASE_ROUTERS`` (as configured) or taken out."""
    current = list(settings.DATABASE_ROUTERS)
    if enabled:
        return override_settings(DATABASE_ROUTERS=current)
    return override_settings(DATABASE_ROUTERS=[r for r in current if r != ROUTER])


@contextlib.contextmanager
def pool(alias: str, enabled: bool) -> Iterator[None]:
    """Django's connection pool of ``alias`` used (as configured) or bypassed.

    The pool is read from ``OPTIONS["pool"]`` each time a connection is made, so taking
    the key out makes new connections direct; it is put back afterwards."""
    options = connections.settings[alias].setdefault("OPTIONS", {})
    saved = options.get("pool")
    connections.close_all()
    if not enabled:
        options.pop("pool", None)
    try:
        yield
    finally:
        connections.close_all()
        if saved is not None:
            options["pool"] = saved

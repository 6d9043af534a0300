"""The work behind ``manage.py dbopt_cache``: plain functions, importable and tested."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.cache import caches
from django.db import DatabaseError
from django.utils.module_loading import import_string

from django_dbopt.cache import generations
from django_dbopt.cache.backend import TwoTierCache
from django_dbopt.cache.report import state_of
from django_dbopt.cache.tables import tracked_tables
from django_dbopt.conf import get_config
from django_dbopt.exceptions import DbOptError

logger = logging.getLogger("django_dbopt.cache")


class OperationError(DbOptError):
    """A cache operation was asked something impossible (unknown model, table...)."""


def tables_of_models(labels: Iterable[str]) -> list[str]:
    tables = []
    for label in labels:
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError) as e:
            raise OperationError(f"unknown model {label!r} (use app_label.ModelName)") from e
        tables.append(model._meta.db_table)
    return tables


def invalidate(
    alias: str | None,
    tables: Iterable[str] = (),
    tags: Iterable[str] = (),
    *,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Bump the generations of ``tables`` and ``tags``. Tables must be tracked."""
    table_list, tag_list = sorted(set(tables)), sorted(set(tags))
    untracked = set(table_list) - tracked_tables()
    if untracked:
        raise OperationError(
            f"not tracked by the cache: {', '.join(sorted(untracked))} "
            "(DBOPT['CACHE']['ORM_MODELS'] / ['TRACK_MODELS'])"
        )
    st = state_of(alias)
    done = True
    if not dry_run:
        done = generations.bump(st, generations.gen_keys(st, tables=table_list, tags=tag_list))
    return {"tables": table_list, "tags": tag_list, "written": done, "dry_run": dry_run}


def clear(alias: str | None, *, dry_run: bool = False) -> dict[str, Any]:
    """Empty the cache ``alias``. ``l2``: True (Redis emptied, every process told),
    False (Redis unreachable: only this process's L1 was cleared), None (L1-only mode).
    The caller decides what an unreachable Redis means (the command fails)."""
    name = alias or get_config().cache.cache
    st = state_of(name)  # refuses aliases that are not TwoTierCache
    backend = caches[name]
    assert isinstance(backend, TwoTierCache)
    done: dict[str, bool | None] = {"l1": False, "l2": None if st.local else False}
    if not dry_run:
        done = backend.clear_tiers()
    return {"alias": name, "cleared": not dry_run, "dry_run": dry_run, **done}


@dataclass
class Warmed:
    path: str
    seconds: float
    result: Any = None
    error: str | None = None


def preload_on_login(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: run ``DBOPT['CACHE']['PRELOAD_ON_LOGIN']`` callables.

    Each gets ``user``; what it reads through ORM caching or ``@cached`` functions is then
    in the cache for the user's next requests. A failing preload is logged, never raised:
    it must not fail the login."""
    for path in get_config().cache.preload_on_login:
        try:
            import_string(path)(user)
        except (ImportError, DatabaseError, DbOptError) as e:
            logger.warning("cache preload %s failed for a login: %s", path, e)


def warm(database: str, paths: Iterable[str] | None = None) -> list[Warmed]:
    """Call each warming callable (``DBOPT['CACHE']['WARM']``) with ``using=database``.

    A warming callable runs the queries (or ``@cached`` functions) whose results should
    be in the cache before traffic arrives; through ORM caching they are stored in L2 for
    every process. Errors are reported per callable, not raised.
    """
    out = []
    for path in paths if paths is not None else get_config().cache.warm:
        try:
            func = import_string(path)
        except ImportError as e:
            raise OperationError(f"cannot import warming callable {path!r}: {e}") from e
        start = time.perf_counter()
        try:
            result = func(using=database)
        except (DatabaseError, DbOptError) as e:
            out.append(Warmed(path, time.perf_counter() - start, error=str(e)))
            continue
        out.append(Warmed(path, time.perf_counter() - start, result=result))
    st = state_of(None)
    st.outbox.flush()
    return out

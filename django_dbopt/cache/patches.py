"""Every patch of Django internals the cache makes, in one place (as django-cachalot's
``monkey_patch.py``).

Three methods are wrapped, each with ``functools.wraps`` (the method wrapped is the
wrapper's ``__wrapped__``), and each wrapper hands the call to the module that decides
whether it is cached:

- ``SQLCompiler.execute_sql``: every ORM read, keyed by its SQL (``orm.py``);
- ``QuerySet.get``: a primary-key lookup, keyed before compilation (``fastpath.py``);
- ``QuerySet._fetch_all``: a simple queryset, keyed from its parts (``listpath.py``).

``install()`` and ``uninstall()`` are idempotent and do no I/O. ``sync_install()``
installs only while ``DBOPT['CACHE']['ORM_MODELS']`` names something, so an app that
does not use ORM caching pays nothing per query; ``cache.wiring`` calls it at start-up
and on every ``DBOPT`` change (``override_settings`` included).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.db.models.sql import compiler
from django.db.models.sql.constants import GET_ITERATOR_CHUNK_SIZE, MULTI

from django_dbopt.cache import fastpath, listpath, orm
from django_dbopt.conf import get_config

#: set on every wrapper this module makes, so that it is never wrapped twice
MARK = "_dbopt_cache_patch"


def _patch_execute_sql(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def execute_sql(
        self: compiler.SQLCompiler,
        result_type: str = MULTI,
        chunked_fetch: bool = False,  # noqa: FBT001, FBT002, RUF100  (Django's signature)
        chunk_size: int = GET_ITERATOR_CHUNK_SIZE,
    ) -> Any:
        return orm.execute_sql(
            original, self, result_type, chunked_fetch=chunked_fetch, chunk_size=chunk_size
        )

    return execute_sql


def _patch_get(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get(self: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        return fastpath.get(original, self, args, kwargs)

    return get


def _patch_fetch_all(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def _fetch_all(self: QuerySet[Any]) -> None:
        listpath.fill_result_cache(self)
        original(self)

    return _fetch_all


#: (class, method name, wrapper factory)
PATCHES: tuple[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]], ...] = (
    (compiler.SQLCompiler, "execute_sql", _patch_execute_sql),
    (QuerySet, "get", _patch_get),
    (QuerySet, "_fetch_all", _patch_fetch_all),
)


def is_patched(cls: type, name: str) -> bool:
    """``cls.name`` is this module's wrapper."""
    return getattr(cls.__dict__.get(name), MARK, False) is True


def install() -> None:
    """Wrap the three methods (idempotent; no I/O)."""
    for cls, name, make in PATCHES:
        if not is_patched(cls, name):
            wrapper = make(getattr(cls, name))
            setattr(wrapper, MARK, True)
            setattr(cls, name, wrapper)


def uninstall() -> None:
    """Put back the methods wrapped (idempotent). A method another library wrapped on top
    of ours since is left alone, as it holds ours."""
    for cls, name, _make in PATCHES:
        if is_patched(cls, name):
            setattr(cls, name, cls.__dict__[name].__wrapped__)


def wanted() -> bool:
    """Whether ORM caching can be active: ``ORM_MODELS`` names something (a broken
    ``DBOPT`` counts as no: the system checks report it, queries must not fail on it)."""
    try:
        return bool(get_config().cache.orm_models)
    except ImproperlyConfigured:
        return False


def sync_install() -> None:
    """Wrap the ORM only while ORM caching can be active."""
    if wanted():
        install()
    else:
        uninstall()


def resync(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver (``cache.wiring``)."""
    if setting == "DBOPT":
        sync_install()

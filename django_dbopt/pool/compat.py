"""Start-up check that psycopg_pool still has the internals the managed pool uses.

``managed.py`` overrides or reads private parts of ``psycopg_pool.ConnectionPool``:
``_connect`` (to count connection attempts), ``_check_connection`` (the checkout test),
``_get_ready_connection`` (refuse to queue while the breaker is open),
``_CONNECTIONS_ERRORS``, and the instance attributes ``_stats``, ``_lock``, ``_nconns``
and ``_waiting``. Private names can change in any release, so ``pyproject.toml`` bounds
``psycopg-pool`` to the versions verified (``VERIFIED``), and this check (``E039``) says
plainly, at ``manage.py check`` / server start, when the installed one lacks a name,
instead of an ``AttributeError`` in the middle of a request. It builds a pool with
``open=False``: no connection, no thread.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

#: psycopg_pool releases whose internals were checked against ``managed.py``
VERIFIED = ">=3.3,<3.4"
#: methods and class attributes of ``ConnectionPool`` that ``managed.py`` relies on
CLASS_NAMES = ("_connect", "_check_connection", "_get_ready_connection", "_CONNECTIONS_ERRORS")
#: attributes a ``ConnectionPool`` instance sets in ``__init__``
INSTANCE_NAMES = ("_stats", "_lock", "_nconns", "_waiting")
MANAGED_ENGINE = "django_dbopt.pool.postgresql"


def missing_internals(pool_class: Any) -> list[str]:
    """The names ``managed.py`` uses that ``pool_class`` (a ``ConnectionPool``) lacks."""
    missing = [name for name in CLASS_NAMES if not hasattr(pool_class, name)]
    try:
        pool = pool_class("", open=False)
    except TypeError as e:  # the constructor itself changed
        return [*missing, f"ConnectionPool(conninfo, open=False) ({e})"]
    missing += [name for name in INSTANCE_NAMES if not hasattr(pool, name)]
    return missing


def uses_managed_engine() -> bool:
    configured: dict[str, Any] = settings.DATABASES
    return any(conf.get("ENGINE") == MANAGED_ENGINE for conf in configured.values())


def check_pool_internals(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not uses_managed_engine():
        return []
    try:
        import psycopg_pool
    except ImportError:
        return []  # reported by the pool checks (E04x)
    missing = missing_internals(psycopg_pool.ConnectionPool)
    if not missing:
        return []
    version = getattr(psycopg_pool, "__version__", "unknown")
    return [
        Error(
            f"psycopg_pool {version} lacks internals the {MANAGED_ENGINE!r} engine uses: "
            f"{', '.join(missing)}.",
            hint=f"Install a psycopg-pool release django-dbopt was verified with "
            f"(psycopg-pool{VERIFIED}), or use Django's own engine "
            "'django.db.backends.postgresql' until django-dbopt supports this one.",
            id="django_dbopt.E039",
        )
    ]

"""System checks on pooled aliases (ids ``django_dbopt.E040``-``E049`` / ``W040``-``W049``).

Registered in ``django_dbopt/checks.py``. None of them connects: each reads
``DATABASES`` and ``DBOPT['POOL']`` only.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from django_dbopt.conf import SETTING_NAME, get_config

MANAGED_ENGINE = "django_dbopt.pool.postgresql"
#: ``ConnectionPool`` arguments Django passes itself; a second value is a ``TypeError``
RESERVED = ("kwargs", "open", "configure", "check")


def _pool_parameters() -> list[str] | None:
    try:
        from psycopg_pool import ConnectionPool
    except ImportError:
        return None
    return [p for p in inspect.signature(ConnectionPool.__init__).parameters if p != "self"]


def _is_psycopg3() -> bool:
    try:
        from django.db.backends.postgresql.psycopg_any import is_psycopg3
    except ImportError:  # neither psycopg nor psycopg2
        return False
    return bool(is_psycopg3)


def check_pools(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    databases: dict[str, dict[str, Any]] = settings.DATABASES
    for alias, conf in databases.items():
        options = conf.get("OPTIONS") or {}
        pool = options.get("pool")
        where = f"DATABASES[{alias!r}]"
        if conf.get("ENGINE") == MANAGED_ENGINE and not pool:
            messages.append(
                Warning(
                    f"{where} uses the {MANAGED_ENGINE!r} engine without OPTIONS['pool']: "
                    "there is no pool to manage.",
                    hint="Add OPTIONS={'pool': {'min_size': 2, 'max_size': 10}} or use "
                    "'django.db.backends.postgresql'.",
                    id="django_dbopt.W041",
                )
            )
        if not pool:
            continue
        messages.extend(_check_alias(alias, conf, pool, where))
    return messages


def _check_alias(alias: str, conf: dict[str, Any], pool: Any, where: str) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    vendor = connections[alias].vendor
    if vendor != "postgresql":
        return [
            Error(
                f"{where} sets OPTIONS['pool'] but its engine is {vendor}: only PostgreSQL "
                "(psycopg 3) has a connection pool in Django.",
                hint="Remove OPTIONS['pool'] from this alias.",
                id="django_dbopt.E040",
            )
        ]
    if not _is_psycopg3():
        messages.append(
            Error(
                f"{where} sets OPTIONS['pool'] but Django is using psycopg 2; pooling "
                "needs psycopg 3.",
                hint="pip install 'psycopg[binary,pool]' (and uninstall psycopg2).",
                id="django_dbopt.E042",
            )
        )
    if conf.get("CONN_MAX_AGE", 0) != 0:
        messages.append(
            Error(
                f"{where} sets OPTIONS['pool'] and CONN_MAX_AGE={conf.get('CONN_MAX_AGE')!r}; "
                "Django refuses persistent connections with a pool.",
                hint="Set CONN_MAX_AGE to 0: the pool keeps connections open instead.",
                id="django_dbopt.E041",
            )
        )
    parameters = _pool_parameters()
    if parameters is None:
        messages.append(
            Error(
                f"{where} sets OPTIONS['pool'] but psycopg_pool is not installed.",
                hint="pip install 'psycopg[pool]'.",
                id="django_dbopt.E043",
            )
        )
    if pool is not True and not isinstance(pool, dict):
        messages.append(
            Error(
                f"{where}['OPTIONS']['pool'] is {pool!r}; expected True or a dict of "
                "psycopg_pool.ConnectionPool arguments.",
                hint="Write 'pool': True or 'pool': {'min_size': 2, 'max_size': 10}.",
                id="django_dbopt.E044",
            )
        )
        return messages
    if isinstance(pool, dict):
        messages.extend(_check_pool_keys(pool, parameters or [], where))
        if conf.get("ENGINE") == MANAGED_ENGINE and pool.get("reset") is not None:
            messages.extend(_check_own_reset(where))
    if conf.get("ENGINE") != MANAGED_ENGINE:
        messages.append(
            Warning(
                f"{where} uses Django's pool without django-dbopt's engine: no session "
                "reset, no leak reports, no fail-fast breaker, a 30 s checkout timeout.",
                hint=f"Set ENGINE to {MANAGED_ENGINE!r} (a drop-in subclass of Django's "
                "PostgreSQL backend).",
                id="django_dbopt.W040",
            )
        )
    return messages


def _check_own_reset(where: str) -> list[CheckMessage]:
    try:
        mode = get_config().pool.reset_session
    except ImproperlyConfigured:  # a broken DBOPT is reported by E001-E007
        return []
    if mode in (False, "never"):
        return []
    return [
        Warning(
            f"{where}['OPTIONS']['pool'] sets its own 'reset', which replaces django-dbopt's "
            f"session reset: {SETTING_NAME}['POOL']['RESET_SESSION'] = {mode!r} does not "
            "apply to this alias (no dirty-session tracking, no reset counters).",
            hint="Remove 'reset' to let RESET_SESSION reset sessions, or keep it if your "
            "callback restores everything your code may change (docs/pool.md).",
            id="django_dbopt.W044",
        )
    ]


def _check_pool_keys(
    pool: dict[str, Any], parameters: list[str], where: str
) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for key in pool:
        if key in RESERVED:
            messages.append(
                Error(
                    f"{where}['OPTIONS']['pool'] sets {key!r}, which Django passes to the "
                    "pool itself.",
                    hint="Remove it: Django sets kwargs, open, configure and check "
                    "(check follows CONN_HEALTH_CHECKS).",
                    id="django_dbopt.E045",
                )
            )
        elif parameters and key not in parameters:
            close = difflib.get_close_matches(str(key), parameters, n=1)
            messages.append(
                Error(
                    f"{where}['OPTIONS']['pool'] has an unknown key {key!r}.",
                    hint=(f"Did you mean {close[0]!r}? " if close else "")
                    + "Keys are psycopg_pool.ConnectionPool arguments.",
                    id="django_dbopt.E046",
                )
            )
    min_size, max_size = pool.get("min_size", 4), pool.get("max_size")
    if (
        not isinstance(min_size, int)
        or min_size < 0
        or (
            max_size is not None and (not isinstance(max_size, int) or max_size < max(min_size, 1))
        )
    ):
        messages.append(
            Error(
                f"{where}['OPTIONS']['pool'] has min_size={min_size!r}, max_size={max_size!r}.",
                hint="Use integers with 0 <= min_size <= max_size and max_size >= 1.",
                id="django_dbopt.E047",
            )
        )
    return messages


def check_pool_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``DBOPT['POOL']`` against ``DATABASES`` (type errors are reported by E003)."""
    try:
        config = get_config().pool
    except ImproperlyConfigured:  # a broken DBOPT is reported by E001-E007
        return []
    messages: list[CheckMessage] = []
    where = f"{SETTING_NAME}['POOL']"
    for alias in config.health_databases or []:
        if alias not in settings.DATABASES:
            messages.append(
                Error(
                    f"{where}['HEALTH_DATABASES'] names {alias!r}, which is not in DATABASES.",
                    hint=f"Use some of: {', '.join(settings.DATABASES)}.",
                    id="django_dbopt.E048",
                )
            )
    if config.connection_budget is not None:
        databases: dict[str, dict[str, Any]] = settings.DATABASES
        minimum = sum(
            _min_size((conf.get("OPTIONS") or {}).get("pool")) for conf in databases.values()
        )
        if minimum > config.connection_budget:
            messages.append(
                Warning(
                    f"{where}['CONNECTION_BUDGET'] is {config.connection_budget} but the "
                    f"pools' min_size add up to {minimum}.",
                    hint="Raise the budget or lower min_size: resizing never goes below min_size.",
                    id="django_dbopt.W042",
                )
            )
    elif config.auto_resize:
        messages.append(
            Warning(
                f"{where}['AUTO_RESIZE'] is on without a CONNECTION_BUDGET: pools may grow "
                "until the server's max_connections.",
                hint=f"Set {where}['CONNECTION_BUDGET'] to this process's share of "
                "max_connections.",
                id="django_dbopt.W043",
            )
        )
    return messages


def _min_size(pool: Any) -> int:
    if pool is True:
        return 4
    if isinstance(pool, dict) and isinstance(pool.get("min_size", 4), int):
        return int(pool.get("min_size", 4))
    return 0

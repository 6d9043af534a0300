"""The one place the ``DBOPT`` setting is read.

``DBOPT`` is a dict of sections (``MONITOR``, ``ROUTING``, ``CACHE``, ...), each a dict
of upper-case keys. The defaults live in the dataclasses below, one per section; a
user's dict is merged over them lazily, on first use, and the merge is cached until
Django's ``setting_changed`` signal says ``DBOPT`` changed (tests' ``override_settings``).

Validation lives here too so that the system checks (``checks.py``) and the runtime
accessor report the same problems in the same words.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "DBOPT"

#: metadata key naming what kind of alias a value refers to ("database" or "cache")
ALIAS = "alias"
#: metadata key: smallest allowed number
MIN = "min"


def _alias(kind: str, **extra: Any) -> dict[str, Any]:
    return {ALIAS: kind, **extra}


@dataclass(frozen=True)
class MonitorSettings:
    """Query monitor (``django_dbopt.monitor``)."""

    enabled: bool = True
    slow_query_ms: float = field(default=200.0, metadata={MIN: 0})
    capture_params: bool = False
    nplusone_min_count: int = field(default=5, metadata={MIN: 2})
    nplusone_min_total_ms: float = field(default=50.0, metadata={MIN: 0})
    max_fingerprints: int = field(default=5000, metadata={MIN: 1})
    flush_interval_s: float = field(default=10.0, metadata={MIN: 0})
    bucket_s: int = field(default=300, metadata={MIN: 1})
    rollup_after_h: int = field(default=6, metadata={MIN: 1})
    retention_days: int = field(default=14, metadata={MIN: 1})
    prune_batch: int = field(default=1000, metadata={MIN: 1})
    explain_timeout_ms: int = field(default=2000, metadata={MIN: 1})
    large_table_rows: int = field(default=10000, metadata={MIN: 1})
    store_cache: str | None = field(default=None, metadata=_alias("cache"))


@dataclass(frozen=True)
class RoutingSettings:
    """Replica router (``django_dbopt.routing``)."""

    #: ``{primary_alias: {replica_alias: weight}}``
    replicas: dict[str, dict[str, float]] = field(default_factory=dict)
    max_lag_s: float = field(default=5.0, metadata={MIN: 0})
    max_lag_bytes: int = field(default=16 * 1024 * 1024, metadata={MIN: 0})
    probe_interval_s: float = field(default=2.0, metadata={MIN: 0.05})
    probe_timeout_s: float = field(default=1.0, metadata={MIN: 0.01})
    failback_probes: int = field(default=3, metadata={MIN: 1})
    breaker_failures: int = field(default=3, metadata={MIN: 1})
    breaker_reset_s: float = field(default=5.0, metadata={MIN: 0.05})
    no_fit_replica: Literal["primary", "least_lagged"] = "primary"
    max_staleness_s: float = field(default=30.0, metadata={MIN: 0})
    cookie_name: str = "dbopt_lsn"
    cookie_max_age_s: int = field(default=300, metadata={MIN: 1})


@dataclass(frozen=True)
class CacheSettings:
    """Two-tier cache and automatic ORM caching (``django_dbopt.cache``)."""

    #: the ``TwoTierCache`` alias used for ORM caching and decorators
    cache: str = field(default="default", metadata=_alias("cache"))
    #: ``"app_label"`` or ``"app_label.ModelName"`` entries whose queries are cached
    orm_models: list[str] = field(default_factory=list)
    #: like ``ORM_MODELS``, but only their writes are tracked (for ``@cached(tables=...)``);
    #: their queries are not cached automatically
    track_models: list[str] = field(default_factory=list)
    orm_timeout_s: int = field(default=300, metadata={MIN: 1})
    orm_max_result_bytes: int = field(default=1024 * 1024, metadata={MIN: 1})
    #: every cached ORM read checks its tables' generations in Redis (one round trip,
    #: shared with the L2 lookup): no stale read across processes. ``False``: L1 hits
    #: trust generations kept current by pub/sub (no round trip, stale for the delivery time)
    orm_strict: bool = True
    #: stampede protection: how long others wait for the one computing a value
    stampede_wait_s: float = field(default=2.0, metadata={MIN: 0})
    #: dotted paths of callables run by ``manage.py dbopt_cache warm``
    warm: list[str] = field(default_factory=list)
    #: dotted paths of callables ``f(user)`` run when a user logs in (preloading)
    preload_on_login: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PoolSettings:
    """Connection pool manager (``django_dbopt.pool``)."""

    leak_threshold_s: float = field(default=30.0, metadata={MIN: 0})
    connect_failures_to_open: int = field(default=5, metadata={MIN: 1})
    breaker_reset_s: float = field(default=0.0, metadata={MIN: 0})
    checkout_timeout_s: float = field(default=5.0, metadata={MIN: 0.01})
    #: reset session state when a connection returns: ``"dirty"`` only when it ran a
    #: statement that may leave some (``pool/session.py``), ``"always"``, or
    #: ``"never"`` / ``False``
    reset_session: Literal["dirty", "always", "never", False] = "dirty"
    connection_budget: int | None = field(default=None, metadata={MIN: 1})
    auto_resize: bool = False
    resize_interval_s: float = field(default=60.0, metadata={MIN: 1})
    health_databases: list[str] | None = None
    health_timeout_ms: int = field(default=1000, metadata={MIN: 1})
    metrics_max_fingerprints: int = field(default=50, metadata={MIN: 1})


@dataclass(frozen=True)
class MigrationSettings:
    """``dbopt_lint_migrations`` and ``dbopt_migrate``."""

    lock_timeout_ms: int = field(default=5000, metadata={MIN: 1})
    statement_timeout_ms: int = field(default=0, metadata={MIN: 0})
    retries: int = field(default=3, metadata={MIN: 0})


@dataclass(frozen=True)
class BackupSettings:
    """``dbopt_backup`` / ``dbopt_restore`` / ``dbopt_backups``."""

    location: str = "backups"
    s3_bucket: str | None = None
    keep_last: int = field(default=7, metadata={MIN: 1})


@dataclass(frozen=True)
class DbOptSettings:
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    pool: PoolSettings = field(default_factory=PoolSettings)
    migrations: MigrationSettings = field(default_factory=MigrationSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with ``DBOPT``; ``checks.py`` turns these into check messages."""

    id: str
    msg: str
    hint: str


def _sections() -> dict[str, type[Any]]:
    hints = typing.get_type_hints(DbOptSettings)
    return {f.name.upper(): hints[f.name] for f in dataclasses.fields(DbOptSettings)}


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if origin is not None:
        return origin.__name__  # type: ignore[no-any-return]
    return hint.__name__  # type: ignore[no-any-return]


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, (list, tuple)) and all(_matches(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(
            _matches(k, key) and _matches(v, item) for k, v in value.items()
        )
    return isinstance(value, hint)


def _unknown(kind: str, name: str, known: list[str], where: str) -> Problem:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"Did you mean {close[0]!r}? " if close else ""
    return Problem(
        "django_dbopt.E002",
        f"{where} has an unknown {kind} {name!r}.",
        f"{hint}Known {kind}s: {', '.join(known)}.",
    )


def find_problems(
    user: Any, databases: list[str] | None = None, caches: list[str] | None = None
) -> list[Problem]:
    """Every problem with a ``DBOPT`` value, without raising.

    ``databases`` / ``caches`` are the configured aliases; aliases are checked only when
    given.
    """
    if not isinstance(user, dict):
        return [
            Problem(
                "django_dbopt.E001",
                f"{SETTING_NAME} must be a dict, not {type(user).__name__}.",
                f"Set {SETTING_NAME} = {{'MONITOR': {{...}}, 'ROUTING': {{...}}, ...}}.",
            )
        ]
    problems: list[Problem] = []
    sections = _sections()
    for section_name, section_value in user.items():
        if section_name not in sections:
            problems.append(_unknown("section", str(section_name), list(sections), SETTING_NAME))
            continue
        where = f"{SETTING_NAME}[{section_name!r}]"
        if not isinstance(section_value, dict):
            problems.append(
                Problem(
                    "django_dbopt.E001",
                    f"{where} must be a dict, not {type(section_value).__name__}.",
                    f"Write {where} = {{'KEY': value, ...}}.",
                )
            )
            continue
        section_cls = sections[section_name]
        hints = typing.get_type_hints(section_cls, include_extras=False)
        fields = {f.name.upper(): f for f in dataclasses.fields(section_cls)}
        for key, value in section_value.items():
            if key not in fields:
                problems.append(_unknown("key", str(key), list(fields), where))
                continue
            problems.extend(
                _check_value(
                    f"{SETTING_NAME}[{section_name!r}][{key!r}]",
                    value,
                    hints[fields[key].name],
                    fields[key].metadata,
                    databases,
                    caches,
                )
            )
    routing = user.get("ROUTING")
    if isinstance(routing, dict) and databases is not None:
        problems.extend(_check_replica_map(routing.get("REPLICAS", {}), databases))
    return problems


def _check_value(
    where: str,
    value: Any,
    hint: Any,
    metadata: Any,
    databases: list[str] | None,
    caches: list[str] | None,
) -> list[Problem]:
    if not _matches(value, hint):
        return [
            Problem(
                "django_dbopt.E003",
                f"{where} is {value!r} ({type(value).__name__}); expected {_describe(hint)}.",
                "Fix the value's type; see the settings reference in docs/settings.md.",
            )
        ]
    minimum = metadata.get(MIN)
    if minimum is not None and value is not None and value < minimum:
        return [
            Problem(
                "django_dbopt.E006",
                f"{where} is {value!r}; it must be at least {minimum}.",
                "Use a value in range; see docs/settings.md.",
            )
        ]
    kind = metadata.get(ALIAS)
    known = {"database": databases, "cache": caches}.get(kind) if kind else None
    if known is not None and value is not None and value not in known:
        setting = "DATABASES" if kind == "database" else "CACHES"
        return [
            Problem(
                "django_dbopt.E004" if kind == "database" else "django_dbopt.E005",
                f"{where} names the {kind} alias {value!r}, which is not in {setting}.",
                f"Use one of: {', '.join(known) or '(none configured)'}.",
            )
        ]
    return []


def _check_replica_map(replicas: Any, databases: list[str]) -> list[Problem]:
    if not isinstance(replicas, dict):
        return []  # the type problem is reported by _check_value
    problems = []
    where = f"{SETTING_NAME}['ROUTING']['REPLICAS']"
    for primary, members in replicas.items():
        names = [primary, *(members if isinstance(members, dict) else {})]
        for alias in names:
            if alias not in databases:
                problems.append(
                    Problem(
                        "django_dbopt.E004",
                        f"{where} names the database alias {alias!r}, which is not in DATABASES.",
                        f"Use one of: {', '.join(databases)}.",
                    )
                )
        if isinstance(members, dict) and primary in members:
            problems.append(
                Problem(
                    "django_dbopt.E007",
                    f"{where}[{primary!r}] lists the primary {primary!r} as its own replica.",
                    "List only standby aliases under a primary.",
                )
            )
        for alias, weight in members.items() if isinstance(members, dict) else ():
            if isinstance(weight, (int, float)) and weight <= 0:
                problems.append(
                    Problem(
                        "django_dbopt.E006",
                        f"{where}[{primary!r}][{alias!r}] has weight {weight!r}; "
                        "weights must be positive.",
                        "Remove the replica instead of giving it weight 0.",
                    )
                )
    return problems


def _build(user: dict[str, Any]) -> DbOptSettings:
    built: dict[str, Any] = {}
    for name, cls in _sections().items():
        values = {k.lower(): v for k, v in user.get(name, {}).items()}
        built[name.lower()] = cls(**values)
    return DbOptSettings(**built)


@functools.cache
def get_config() -> DbOptSettings:
    """The merged, validated ``DBOPT`` settings (cached until ``DBOPT`` changes).

    Raises ``ImproperlyConfigured`` naming the first problem; ``manage.py check``
    lists all of them with ids and hints.
    """
    user = getattr(settings, SETTING_NAME, {})
    problems = find_problems(user)
    if problems:
        first = problems[0]
        raise ImproperlyConfigured(f"{first.msg} {first.hint} ({first.id})")
    return _build(user)


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        get_config.cache_clear()

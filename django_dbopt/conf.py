"""The one place the ``DBOPT`` setting is read.

``DBOPT`` is a dict of sections (``MONITOR``, ``ROUTING``, ``CACHE``, ...), each a dict
of upper-case keys. The defaults live in the dataclasses below, one per section; a
user's dict is merged over them lazily, on first use, and the merge is cached until
Django's ``setting_changed`` signal says ``DBOPT`` changed (tests' ``override_settings``).

``validation.py`` checks a user's dict against these dataclasses, for the system checks
and for ``get_config()`` alike.
"""

from __future__ import annotations

import dataclasses
import functools
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
    #: run EXPLAIN on this alias (a low-privilege role or a standby) instead of the
    #: one the query ran on
    explain_database: str | None = field(default=None, metadata=_alias("database"))


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
    #: a replica read silent this long gets its server pinged; unanswered within as long
    #: again, the read is cut and run on the primary (``0``: no client-side limit)
    read_timeout_s: float = field(default=0.3, metadata={MIN: 0})
    #: a replica whose last good probe is older leaves rotation
    #: (``None``: 3 x ``PROBE_INTERVAL_S`` + 2 x ``PROBE_TIMEOUT_S``)
    max_probe_age_s: float | None = field(default=None, metadata={MIN: 0.1})


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

    #: ``dbopt_migrate``: ``lock_timeout`` of the first attempt, doubled on each retry up
    #: to ``lock_timeout_max_ms``: a reader queued behind a blocked lock request waits at
    #: most that long (GitLab's lock retries start near 100 ms and widen)
    lock_timeout_ms: int = field(default=100, metadata={MIN: 1})
    lock_timeout_max_ms: int = field(default=2000, metadata={MIN: 1})
    statement_timeout_ms: int = field(default=0, metadata={MIN: 0})
    retries: int = field(default=10, metadata={MIN: 0})
    #: a finding of a size-weighted rule on a table with at least this many rows
    #: (``pg_class.reltuples``) or bytes (``pg_total_relation_size``) goes up one severity
    big_table_rows: int = field(default=1_000_000, metadata={MIN: 1})
    big_table_bytes: int = field(default=1024**3, metadata={MIN: 1})
    #: ``"app_label.migration_name:DBM001"`` (or ``":*"``): findings not reported
    ignore: list[str] = field(default_factory=list)
    #: ``dbopt_lint_migrations`` exits non-zero on a finding at least this severe
    fail_on: Literal["info", "warning", "error", "never"] = "error"
    #: ``dbopt_migrate``: wait about this long before the first retry, doubling each time
    #: up to ``retry_backoff_max_s``; each wait is drawn between half and all of it (jitter)
    retry_backoff_s: float = field(default=0.5, metadata={MIN: 0})
    retry_backoff_max_s: float = field(default=10.0, metadata={MIN: 0})
    #: ``dbopt_migrate``: how long dropping an INVALID index left by a failed
    #: ``CONCURRENTLY`` build may wait for older transactions (it blocks no reads or writes)
    cleanup_timeout_s: float = field(default=600.0, metadata={MIN: 0})
    #: ``dbopt_migrate``: append one JSON line per run to this file (``None``: log only)
    run_log: str | None = None


@dataclass(frozen=True)
class BackupSettings:
    """``dbopt_backup`` / ``dbopt_restore`` / ``dbopt_backups``."""

    #: local folder for backups (``None``: no local copy); relative to the working directory
    location: str | None = "backups"
    #: S3 bucket (``None``: no S3 copy); credentials from boto3's usual chain (environment,
    #: profile, instance role). Both set: every backup goes to both.
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    #: ``{key_id: key}``: a key is 32 bytes, base64-encoded, or ``"env:NAME"`` to read it
    #: from the environment variable ``NAME``. Old ids stay listed to read old backups.
    encryption_keys: dict[str, str] = field(default_factory=dict)
    #: the id of the key new backups use (``None``: the only key of ``ENCRYPTION_KEYS``)
    encryption_key_id: str | None = None
    compression_level: int = field(default=3, metadata={MIN: 1})
    chunk_bytes: int = field(default=1024 * 1024, metadata={MIN: 4096})
    #: verify each backup (re-read, decrypt, list) right after writing it
    verify_after_backup: bool = True
    restore_jobs: int = field(default=2, metadata={MIN: 1})
    #: where restores and test-restores decrypt dumps (``None``: the system's temp folder)
    temp_dir: str | None = None
    keep_last: int = field(default=7, metadata={MIN: 1})
    keep_daily: int = field(default=7, metadata={MIN: 0})
    keep_weekly: int = field(default=4, metadata={MIN: 0})
    keep_monthly: int = field(default=6, metadata={MIN: 0})
    #: backups older than this are pruned even when a keep rule holds them
    max_age_days: int | None = field(default=None, metadata={MIN: 1})
    #: the aliases that must have a fresh verified backup (health, metrics, alerts);
    #: aliases that have backups are reported too
    databases: list[str] = field(default_factory=lambda: ["default"])
    #: health and alerts: the newest verified backup may be this old
    max_verified_age_h: float = field(default=26.0, metadata={MIN: 0})
    #: readiness answers ``"degraded"`` when the newest verified backup is too old or
    #: the WAL archive lags past ``RPO_S``
    readiness_degrade: bool = False
    #: ``dbopt_migrate`` backs up the tables its plan touches first (as ``--backup``)
    before_migrate: bool = False
    #: point-in-time recovery through pgBackRest: the stanza (``None``: off)
    pgbackrest_stanza: str | None = None
    #: where ``dbopt_backup --physical`` writes pgBackRest's configuration file
    pgbackrest_config: str = "pgbackrest.conf"
    #: pgBackRest ``repo1-*`` / ``pg1-*`` / global options, e.g. ``{"repo1-path": ...}``
    pgbackrest_options: dict[str, str] = field(default_factory=dict)
    #: environment variable holding the repository cipher passphrase (never on a command line)
    pgbackrest_cipher_pass_env: str | None = None
    #: run ``pgbackrest`` as this OS user (the one PostgreSQL runs as; needs root)
    pgbackrest_os_user: str | None = None
    #: the database alias of the cluster pgBackRest backs up
    pgbackrest_database: str = field(default="default", metadata=_alias("database"))
    #: recovery point objective: WAL archive lag above this is an alert
    rpo_s: float = field(default=300.0, metadata={MIN: 1})


@dataclass(frozen=True)
class BenchmarkSettings:
    """``dbopt_benchmark``."""

    #: grade targets over the defaults in ``benchmark/grades.py`` (``AVG_QUERY_MS``...)
    targets: dict[str, float] = field(default_factory=dict)
    #: a project's own workloads: ``"function:dotted.path"``, ``"queryset:<expression>"``,
    #: ``"url:/path/"``
    workloads: list[str] = field(default_factory=list)
    #: a regression is flagged only when the median slowed down by at least this much
    min_effect: float = field(default=0.10, metadata={MIN: 0})
    #: ... and the Mann-Whitney U test's p-value is below this
    alpha: float = field(default=0.05, metadata={MIN: 0})
    #: earlier runs whose trials make the baseline
    baseline_runs: int = field(default=3, metadata={MIN: 1})
    #: store every run (``BenchmarkRun``) for comparisons and the admin page
    store_history: bool = True


@dataclass(frozen=True)
class AlertSettings:
    """Alerts (``django_dbopt.ops``): rules evaluated off the request path."""

    enabled: bool = True
    #: how often the monitor's flush thread (or the Celery beat task) evaluates the rules
    interval_s: float = field(default=30.0, metadata={MIN: 0.05})
    #: the window the average query time is measured over
    window_s: int = field(default=300, metadata={MIN: 1})
    #: ``{rule: {"THRESHOLD": n, "FOR_S": s, "SEVERITY": "warning"|"critical",
    #: "ENABLED": bool, "MEASURE": "dotted.path"}}`` over the defaults (docs/alerts.md)
    rules: dict[str, dict[str, object]] = field(default_factory=dict)
    #: send fired and resolved alerts to ``ADMINS`` with ``mail_admins``
    mail_admins: bool = False
    #: POST each fired and resolved alert as JSON to this URL
    webhook_url: str | None = None
    webhook_timeout_s: float = field(default=5.0, metadata={MIN: 0.1})


@dataclass(frozen=True)
class DbOptSettings:
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    pool: PoolSettings = field(default_factory=PoolSettings)
    migrations: MigrationSettings = field(default_factory=MigrationSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    benchmark: BenchmarkSettings = field(default_factory=BenchmarkSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)


def section_types() -> dict[str, type[Any]]:
    hints = typing.get_type_hints(DbOptSettings)
    return {f.name.upper(): hints[f.name] for f in dataclasses.fields(DbOptSettings)}


def _build(user: dict[str, Any]) -> DbOptSettings:
    built: dict[str, Any] = {}
    for name, cls in section_types().items():
        values = {k.lower(): v for k, v in user.get(name, {}).items()}
        built[name.lower()] = cls(**values)
    return DbOptSettings(**built)


@functools.cache
def get_config() -> DbOptSettings:
    """The merged, validated ``DBOPT`` settings (cached until ``DBOPT`` changes).

    Raises ``ImproperlyConfigured`` naming the first problem; ``manage.py check``
    lists all of them with ids and hints.
    """
    from django_dbopt.validation import find_problems

    user = getattr(settings, SETTING_NAME, {})
    problems = find_problems(user)
    if problems:
        first = problems[0]
        raise ImproperlyConfigured(f"{first.msg} {first.hint} ({first.id})")
    return _build(user)


@receiver(setting_changed, dispatch_uid="django_dbopt.conf.reset")
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        get_config.cache_clear()

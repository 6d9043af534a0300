"""Health endpoint: liveness and readiness for load balancers and orchestrators.

Include ``django_dbopt.urls`` (``health/live/``, ``health/ready/``, ``metrics/``).

- **liveness** answers 200 as long as the process serves requests; it touches no database
  (a database outage must not get healthy processes restarted);
- **readiness** checks each alias of ``DBOPT['POOL']['HEALTH_DATABASES']`` (default: all)
  and answers 200 (``"ok"`` or ``"degraded"``) or 503 (``"unavailable"``).

Each check runs in a ``READ ONLY`` transaction with a ``statement_timeout``: it never
writes, so it works on hot standbys. Per alias it reports reachability, role
(``pg_is_in_recovery()``), replica lag (seconds since the last replayed transaction, 0
when everything received is replayed; bytes received but not replayed yet), the pool's
breaker state and numbers. An unreachable alias that is a configured replica
(``ROUTING.REPLICAS``) or a replica lagging past ``ROUTING.MAX_LAG_S`` makes the status
``"degraded"`` (reads fall back to the primary); any other unreachable alias makes it
``"unavailable"``. Error texts are shown to staff only.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from django_dbopt.conf import get_config
from django_dbopt.topology import primary_of

ROLE_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() IS NULL THEN NULL
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END,
       CASE WHEN pg_is_in_recovery()
            THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) END
"""
POOL_KEYS = ("pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting", "in_use")


def checked_aliases() -> list[str]:
    return list(get_config().pool.health_databases or connections)


def check_database(alias: str) -> dict[str, Any]:
    """Probe one alias, read-only. Never raises for a database error: it reports it."""
    result: dict[str, Any] = {
        "alias": alias,
        "reachable": False,
        "role": None,
        "lag_s": None,
        "lag_bytes": None,
        "latency_ms": None,
        "breaker": None,
        "pool": None,
        "error": None,
    }
    started = time.perf_counter()
    if _from_probes(alias, result):
        result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        _add_pool(alias, result)
        return result
    wrapper = connections[alias]
    try:
        if wrapper.vendor == "postgresql":
            timeout_ms = int(get_config().pool.health_timeout_ms)
            nested = wrapper.in_atomic_block  # then the caller's transaction has begun
            with transaction.atomic(using=alias), wrapper.cursor() as cursor:
                if not nested:
                    cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute(f"SET LOCAL statement_timeout = {timeout_ms}")
                cursor.execute(ROLE_SQL)
                in_recovery, lag_s, lag_bytes = cursor.fetchone()
            result["role"] = "replica" if in_recovery else "primary"
            result["lag_s"] = None if lag_s is None else round(float(lag_s), 3)
            result["lag_bytes"] = None if lag_bytes is None else int(lag_bytes)
        else:
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            result["role"] = "primary"
        result["reachable"] = True
    except DatabaseError as e:
        result["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e) else ''}"
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    _add_pool(alias, result)  # after the probe, which may have opened the pool
    return result


def _add_pool(alias: str, result: dict[str, Any]) -> None:
    from django_dbopt.pool.stats import pool_stats

    stats = pool_stats(alias)
    if stats is not None:
        result["breaker"] = stats.get("breaker")
        result["pool"] = {k: stats[k] for k in POOL_KEYS if k in stats}


def _from_probes(alias: str, result: dict[str, Any]) -> bool:
    """A configured replica is answered from the router's probes (bounded in time even
    when it refuses connections or hangs; no pool checkout waits on it)."""
    from django_dbopt.routing.status import probed_replica

    replica = probed_replica(alias)
    if replica is None:
        return False
    reachable = bool(replica.reachable) and replica.state not in ("down", "unknown")
    result["reachable"] = reachable
    if reachable:
        result["role"] = "replica" if replica.in_recovery else "primary"
        result["lag_s"] = None if replica.lag_s is None else round(replica.lag_s, 3)
        result["lag_bytes"] = replica.lag_bytes
    else:
        result["error"] = f"ReplicaUnavailable: {replica.last_error or replica.state}"
    return True


def readiness_report() -> tuple[str, list[dict[str, Any]]]:
    """The overall status (``ok``, ``degraded``, ``unavailable``) and each alias's check."""
    config = get_config()
    checks = [check_database(alias) for alias in checked_aliases()]
    status = "ok"
    for check in checks:
        optional = primary_of(check["alias"]) != check["alias"]  # a configured replica
        lag = check["lag_s"]
        if not check["reachable"]:
            if not optional:
                return "unavailable", checks
            status = "degraded"
        elif lag is not None and lag > config.routing.max_lag_s:
            status = "degraded"
    return status, checks


@transaction.non_atomic_requests
@never_cache
@require_safe
def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@transaction.non_atomic_requests
@never_cache
@require_safe
def readiness(request: HttpRequest) -> JsonResponse:
    status, checks = readiness_report()
    try:
        from django_dbopt.backup import freshness
    except ImportError:  # the crypto / compression extras are not installed: no backups
        backups = None
    else:
        backups = freshness.health()  # None unless backups are configured
        if status == "ok" and freshness.degrades(backups):
            status = "degraded"
    user = getattr(request, "user", None)
    if not (user is not None and user.is_staff):
        for check in checks:
            if check["error"]:
                check["error"] = check["error"].split(":", 1)[0]  # the class name only
    body: dict[str, Any] = {"status": status, "databases": checks}
    if backups is not None:
        body["backups"] = backups
    return JsonResponse(body, status=503 if status == "unavailable" else 200)

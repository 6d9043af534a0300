"""The report behind ``manage.py dbopt_pool`` and the admin page, as plain data.

Per pooled alias: its configuration, this process's measured numbers (``stats.py``;
``None`` where this process has no pool: "no data"), the server's view measured now
(``pg_stat_activity``, ``max_connections``: read-only queries) and advice (``sizing.py``,
plus server-side findings: sessions idle in a transaction, too many processes for
``max_connections``).
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connections

from django_dbopt.conf import get_config
from django_dbopt.pool.sizing import advise
from django_dbopt.pool.stats import pool_stats, pooled_aliases

SERVER_SQL = """
SELECT current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
       (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),
       (SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'active'),
       (SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'idle'),
       (SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database()
           AND state IN ('idle in transaction', 'idle in transaction (aborted)')),
       (SELECT EXTRACT(EPOCH FROM max(now() - state_change)) FROM pg_stat_activity
         WHERE datname = current_database()
           AND state IN ('idle in transaction', 'idle in transaction (aborted)'))
"""
SERVER_KEYS = (
    "max_connections",
    "reserved_connections",
    "client_connections",
    "database_connections",
    "active",
    "idle",
    "idle_in_transaction",
    "oldest_idle_in_transaction_s",
)


def configured(alias: str) -> dict[str, Any]:
    conf = connections.settings[alias]
    pool = conf["OPTIONS"]["pool"]
    options = pool if isinstance(pool, dict) else {}
    managed = conf.get("ENGINE") == "django_dbopt.pool.postgresql"
    config = get_config().pool
    default_timeout = config.checkout_timeout_s if managed else 30.0
    if not managed:
        reset = "none"
    elif options.get("reset") is not None:
        reset = "own callback"
    else:
        reset = config.reset_session or "never"
    return {
        "engine_managed": managed,
        "min_size": options.get("min_size", 4),
        "max_size": options.get("max_size") or options.get("min_size", 4),
        "timeout_s": options.get("timeout", default_timeout),
        "session_reset": reset,
    }


def server_view(alias: str) -> dict[str, Any]:
    from django_dbopt.routing.status import probed_replica

    replica = probed_replica(alias)  # a replica the probes find down: no checkout waits
    if replica is not None and (not replica.reachable or replica.state in ("down", "unknown")):
        return {"error": f"ReplicaUnavailable: {replica.last_error or replica.state}"}
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(SERVER_SQL)
            row = cursor.fetchone()
    except DatabaseError as e:
        return {"error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e) else ''}"}
    view = dict(zip(SERVER_KEYS, row, strict=True))
    oldest = view["oldest_idle_in_transaction_s"]
    view["oldest_idle_in_transaction_s"] = None if oldest is None else round(float(oldest), 1)
    return view


def server_findings(
    config: dict[str, Any], server: dict[str, Any], processes: int | None
) -> list[str]:
    findings = []
    if "error" in server:
        return [f"server unreachable: {server['error']}"]
    threshold = get_config().pool.leak_threshold_s
    oldest = server["oldest_idle_in_transaction_s"]
    if oldest is not None and oldest > threshold:
        findings.append(
            f"{server['idle_in_transaction']} session(s) idle in a transaction, the oldest "
            f"for {oldest:.0f} s: a transaction left open holds its connection and locks"
        )
    if processes is not None:
        needed = processes * int(config["max_size"])
        room = server["max_connections"] - server["reserved_connections"]
        verdict = "exceeds" if needed > room else "fits in"
        findings.append(
            f"{processes} processes x max_size {config['max_size']} = {needed} connections "
            f"{verdict} the {room} the server allows (max_connections - reserved)"
        )
    return findings


def pool_report(
    aliases: list[str] | None = None, processes: int | None = None
) -> list[dict[str, Any]]:
    report = []
    for alias in aliases or pooled_aliases():
        config = configured(alias)
        stats = pool_stats(alias)
        server = server_view(alias)
        advice = advise(stats)
        advice.alias = alias
        report.append(
            {
                "alias": alias,
                "config": config,
                "process": stats,
                "server": server,
                "advice": advice.as_dict(),
                "findings": server_findings(config, server, processes),
            }
        )
    return report

"""The health probe's queries, on the probe thread's own psycopg connections.

Probes never use Django's connections (those belong to request threads): each alias
gets one plain psycopg connection built from its ``DATABASES`` entry, with a short
``connect_timeout`` and ``statement_timeout``; a connection that fails is dropped and
made again on the next probe.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connections

from django_dbopt.routing.tokens import Identity, parse_lsn

#: libpq parameters passed through from ``DATABASES[alias]["OPTIONS"]``
_LIBPQ_OPTIONS = frozenset(
    {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "passfile", "service"}
)

_PRIMARY_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_walfile_name(pg_current_wal_lsn()) END,
       (SELECT system_identifier::text FROM pg_control_system())
"""

_REPLICA_SQL = """
SELECT pg_is_in_recovery(),
       pg_last_wal_receive_lsn()::text,
       pg_last_wal_replay_lsn()::text,
       EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8,
       (SELECT system_identifier::text FROM pg_control_system())
"""


@dataclass(frozen=True)
class PrimarySample:
    in_recovery: bool
    lsn: int | None
    identity: Identity
    at: float  # time.monotonic() when the answer arrived


@dataclass(frozen=True)
class ReplicaSample:
    in_recovery: bool
    receive_lsn: int | None
    replay_lsn: int | None
    #: seconds since the last replayed transaction committed on the primary
    replay_age_s: float | None
    system_id: str | None
    at: float


def connect_kwargs(alias: str, timeout_s: float) -> dict[str, Any]:
    db = connections.settings[alias]
    kwargs: dict[str, Any] = {
        "dbname": db.get("NAME") or "postgres",
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": str(db.get("PORT")) if db.get("PORT") else None,
        # libpq takes whole seconds (and treats 1 as 2)
        "connect_timeout": max(1, math.ceil(timeout_s)),
        "options": f"-c statement_timeout={max(1, int(timeout_s * 1000))}",
        "application_name": "django_dbopt probe",
        "autocommit": True,
    }
    for key, value in (db.get("OPTIONS") or {}).items():
        if key in _LIBPQ_OPTIONS:
            kwargs[key] = value
    return {k: v for k, v in kwargs.items() if v is not None}


class Prober:
    """One probe connection per alias; used by one thread at a time."""

    def __init__(self) -> None:
        self._conns: dict[str, psycopg.Connection[Any]] = {}

    def _row(self, alias: str, sql: str, timeout_s: float) -> tuple[Any, ...]:
        conn = self._conns.get(alias)
        if conn is None or conn.closed:
            conn = psycopg.connect(**connect_kwargs(alias, timeout_s))
            self._conns[alias] = conn
        try:
            row = conn.execute(sql).fetchone()
        except psycopg.Error:
            self.close(alias)
            raise
        assert row is not None
        return tuple(row)

    def primary(self, alias: str, timeout_s: float) -> PrimarySample:
        in_recovery, lsn, walfile, system_id = self._row(alias, _PRIMARY_SQL, timeout_s)
        return PrimarySample(
            in_recovery=bool(in_recovery),
            lsn=parse_lsn(lsn) if lsn else None,
            identity=Identity(system_id, int(walfile[:8], 16) if walfile else None),
            at=time.monotonic(),
        )

    def replica(self, alias: str, timeout_s: float) -> ReplicaSample:
        in_recovery, received, replayed, age, system_id = self._row(alias, _REPLICA_SQL, timeout_s)
        return ReplicaSample(
            in_recovery=bool(in_recovery),
            receive_lsn=parse_lsn(received) if received else None,
            replay_lsn=parse_lsn(replayed) if replayed else None,
            replay_age_s=max(0.0, float(age)) if age is not None else None,
            system_id=system_id,
            at=time.monotonic(),
        )

    def close(self, alias: str | None = None) -> None:
        for name in [alias] if alias is not None else list(self._conns):
            conn = self._conns.pop(name, None)
            if conn is not None and not conn.closed:
                with contextlib.suppress(psycopg.Error):  # a broken socket: nothing to close
                    conn.close()

    def forget(self) -> None:
        """Drop connections without closing them (after fork: they belong to the parent)."""
        self._conns = {}

"""The health probe's queries, on the probes' own psycopg connections.

Probes never use Django's connections (those belong to request threads): each alias
gets one plain psycopg connection built from its ``DATABASES`` entry, with a short
``connect_timeout`` and ``statement_timeout``; a connection that fails is dropped and
made again on the next probe.

Those two limits are enforced by libpq and by the server; a server that hangs enforces
nothing. So ``Prober.run()`` probes each alias in a thread of its own, all at once, and
waits for them with a deadline of its own: an alias whose answer has not come by then
has failed (its socket is shut down, so that thread ends too), and one alias's hang
delays no other alias's probe. An alias whose previous probe is still stuck is not
probed again (one thread per alias at most): it fails at once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from django_dbopt.routing.tokens import Identity, parse_lsn
from django_dbopt.routing.watchdog import shutdown_fd

logger = logging.getLogger("django_dbopt.routing")
T = TypeVar("T")

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


@dataclass(frozen=True)
class ProbeFailed:
    """A probe that raised, or did not answer within its deadline."""

    error: str
    timed_out: bool = False


def check_aliases(replicas: dict[str, dict[str, float]]) -> None:
    """Every alias of ``REPLICAS`` is in ``DATABASES`` (check E004, for processes that
    skipped the checks): else ``ImproperlyConfigured``, in words, and no probe runs."""
    for primary, members in replicas.items():
        for alias in (primary, *members):
            if alias not in connections.settings:
                raise ImproperlyConfigured(
                    f"DBOPT['ROUTING']['REPLICAS'] names the database alias {alias!r}, which "
                    f"is not in DATABASES. Use one of: {', '.join(connections.settings)}. "
                    "(django_dbopt.E004)"
                )


def connect_kwargs(
    alias: str, timeout_s: float, application_name: str = "django_dbopt probe"
) -> dict[str, Any]:
    try:
        db = connections.settings[alias]
    except KeyError as e:  # checks skipped (E004): say so in words, not a KeyError
        raise ImproperlyConfigured(
            f"DBOPT['ROUTING']['REPLICAS'] names the database alias {alias!r}, which is not "
            "in DATABASES. Add it to DATABASES or remove it from REPLICAS "
            "(django_dbopt.E004)."
        ) from e
    kwargs: dict[str, Any] = {
        "dbname": db.get("NAME") or "postgres",
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": str(db.get("PORT")) if db.get("PORT") else None,
        # libpq takes whole seconds (and treats 1 as 2)
        "connect_timeout": max(1, math.ceil(timeout_s)),
        "options": f"-c statement_timeout={max(1, int(timeout_s * 1000))}",
        "application_name": application_name,
        "autocommit": True,
    }
    for key, value in (db.get("OPTIONS") or {}).items():
        if key in _LIBPQ_OPTIONS:
            kwargs[key] = value
    return {k: v for k, v in kwargs.items() if v is not None}


class Prober:
    """One probe connection per alias, each used by one thread at a time."""

    def __init__(self) -> None:
        self._conns: dict[str, psycopg.Connection[Any]] = {}
        #: held to close a connection or shut its socket down: never a reused socket number
        self._closing = threading.Lock()
        #: alias -> the thread probing it now (a stuck one stays here until it ends)
        self._threads: dict[str, threading.Thread] = {}

    def run(
        self, aliases: list[str], probe: Callable[[str, float], T], timeout_s: float
    ) -> dict[str, T | ProbeFailed]:
        """``probe(alias, timeout_s)`` for every alias at once, each in its own thread;
        whatever has not answered after ``timeout_s`` (from now) is a ``ProbeFailed``."""
        results: dict[str, T | ProbeFailed] = {}
        started: dict[str, threading.Thread] = {}
        for alias in aliases:
            previous = self._threads.get(alias)
            if previous is not None and previous.is_alive():
                results[alias] = ProbeFailed("the previous probe is still waiting", True)
                continue
            thread = threading.Thread(
                target=self._one,
                args=(alias, probe, timeout_s, results),
                name=f"dbopt-probe-{alias}",
                daemon=True,
            )
            self._threads[alias] = started[alias] = thread
            thread.start()
        deadline = time.monotonic() + timeout_s
        for alias, thread in started.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            late = ProbeFailed(f"no answer within {timeout_s:g}s", True)
            if results.setdefault(alias, late) is late:
                self.abort(alias)
        return results

    def _one(
        self,
        alias: str,
        probe: Callable[[str, float], T],
        timeout_s: float,
        results: dict[str, T | ProbeFailed],
    ) -> None:
        try:
            result: T | ProbeFailed = probe(alias, timeout_s)
        except psycopg.Error as e:
            text = str(e).strip()
            result = ProbeFailed(text.splitlines()[0] if text else type(e).__name__)
        except ImproperlyConfigured as e:
            result = ProbeFailed(str(e))
        except Exception as e:  # a probe thread must report, whatever happened
            logger.exception("probe of %s failed", alias)
            result = ProbeFailed(repr(e))
        results.setdefault(alias, result)  # not after the deadline's verdict

    def abort(self, alias: str) -> None:
        """Wake a probe stuck on ``alias``'s connection and forget that connection (the
        stuck thread still holds it: it fails, and the next probe connects afresh)."""
        with self._closing:
            conn = self._conns.pop(alias, None)
            if conn is not None and not conn.closed:
                with contextlib.suppress(psycopg.Error, OSError, ValueError):
                    shutdown_fd(conn.pgconn.socket)

    def _row(self, alias: str, sql: str, timeout_s: float) -> tuple[Any, ...]:
        conn = self._conns.get(alias)
        if conn is None or conn.closed:
            conn = psycopg.connect(**connect_kwargs(alias, timeout_s))
            self._conns[alias] = conn
        try:
            row = conn.execute(sql).fetchone()
        except psycopg.Error:
            with self._closing:
                if self._conns.get(alias) is conn:
                    del self._conns[alias]
                with contextlib.suppress(psycopg.Error):  # a broken socket: nothing to close
                    conn.close()
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
            thread = self._threads.get(name)
            if thread is not None and thread.is_alive():
                self.abort(name)  # never close under a thread still using it
                continue
            with self._closing:
                conn = self._conns.pop(name, None)
                if conn is not None and not conn.closed:
                    with contextlib.suppress(psycopg.Error):  # a broken socket: nothing to close
                        conn.close()

    def forget(self) -> None:
        """Drop connections without closing them (after fork: they belong to the parent)."""
        self._conns = {}
        self._threads = {}

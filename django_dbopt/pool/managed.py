"""``ManagedPool``: psycopg's ``ConnectionPool`` with what Django's pool lacks.

Created by the ``django_dbopt.pool.postgresql`` engine for every alias whose
``OPTIONS["pool"]`` is set. On top of psycopg_pool it adds:

- checkout tracking and leak reports (``tracking.py``);
- a breaker on connecting: after ``CONNECT_FAILURES_TO_OPEN`` failed connection attempts
  in a row, ``getconn`` raises ``PoolUnavailable`` at once instead of waiting out the
  pool timeout (clients already queued fail too); after ``BREAKER_RESET_S`` (default 0:
  at once) one caller at a time probes the server with a direct connection attempt, and
  the first that succeeds closes the breaker and keeps that connection;
- a clear ``PoolExhausted`` error naming who holds the connections when none came back
  within the pool's ``timeout`` (default ``CHECKOUT_TIMEOUT_S``, not psycopg's 30 s);
- a cheap liveness test on checkout with no round trip: an idle connection whose socket
  is readable has been closed by the server (restart, ``pg_terminate_backend``); it is
  discarded and, since a restart kills them all, the pool is drained so no request gets a
  dead connection;
- with ``AUTO_RESIZE``, resizing by ``sizing.auto_resize()`` every ``RESIZE_INTERVAL_S``;
- a session reset when a connection comes back, in the returning thread (``RESET ALL``,
  temp tables, advisory locks, ``LISTEN``, open cursors, prepared statements, Django's
  time zone), then Django's own per-connection set-up again: with
  ``RESET_SESSION = "dirty"`` (the default) only for connections flagged by
  ``session.py`` as having run a statement that may leave session state, with
  ``"always"`` for every connection.

Parts of psycopg_pool's internals used here (psycopg_pool 3.3): ``_connect`` (to count
connection attempts), ``_check_connection`` (the checkout test), ``_get_ready_connection``
(refuse to queue while the breaker is open), ``_stats``, ``_lock`` and
``_nconns`` (one connection added by a successful breaker probe), ``_waiting`` (clients
failed at once when the breaker opens).
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Callable
from typing import Any, Literal

import psycopg
from psycopg.pq import ConnStatus, TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout, TooManyRequests

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.pool.errors import PoolExhausted, PoolUnavailable
from django_dbopt.pool.session import DIRTY
from django_dbopt.pool.tracking import CheckoutTracker

logger = logging.getLogger("django_dbopt.pool")

#: one round trip; each statement is a no-op when the session did not change that state.
#: ``DEALLOCATE ALL`` drops statements made with SQL ``PREPARE`` and psycopg's own: psycopg
#: sees the command's status and forgets its cache (it prepares again when due).
RESET_SQL = (
    "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; "
    "SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES; DEALLOCATE ALL"
)

ResetMode = Literal["dirty", "always", "never"]


class ManagedPool(ConnectionPool):
    def __init__(
        self,
        alias: str,
        *,
        configure: Callable[[Any], Any],
        breaker: CircuitBreaker,
        leak_threshold_s: float,
        reset_session: ResetMode,
        resize_every: float | None = None,
        time_zone: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.alias = alias
        self.resize_every = resize_every
        self._next_resize = time.monotonic() + (resize_every or 0)
        self.breaker = breaker
        self.tracker = CheckoutTracker(alias, leak_threshold_s)
        self.last_connect_error: str | None = None
        self._django_configure = configure
        # Django's time zone set in the reset's own round trip, so that ``configure``
        # finds it already right and adds none.
        self.reset_sql = RESET_SQL
        if time_zone:
            self.reset_sql += "; SET TIME ZONE '{}'".format(time_zone.replace("'", "''"))
        # Our reset runs in ``putconn``, in the returning thread (psycopg_pool would hand
        # every return to a worker thread: slower under load); a user's own ``reset``
        # callback keeps psycopg_pool's way and turns ours off.
        self.reset_mode: ResetMode = "never" if kwargs.get("reset") is not None else reset_session
        kwargs.setdefault("name", alias)
        super().__init__(configure=configure, **kwargs)

    # -- checkout -----------------------------------------------------------------------
    def getconn(self, timeout: float | None = None) -> Any:
        tracker = self.tracker
        now = time.monotonic()
        tracker.maybe_sweep(now)
        if self.resize_every is not None and now >= self._next_resize:
            self._next_resize = now + self.resize_every
            from django_dbopt.pool.sizing import auto_resize

            auto_resize()
        if self.breaker.state != "closed":
            deadline = now + (self.timeout if timeout is None else timeout)
            conn = self._probe(deadline)
            if conn is not None:
                tracker.checkout(conn)
                return conn
            timeout = max(0.0, deadline - time.monotonic())  # closed now: the usual way
        errors_before = self._stats.get(self._CONNECTIONS_ERRORS, 0)
        try:
            conn = super().getconn(timeout)
        except TooManyRequests as e:
            tracker.counters["exhausted"] += 1
            raise PoolExhausted(self._exhausted_message(str(e))) from e
        except PoolTimeout as e:
            if self._stats.get(self._CONNECTIONS_ERRORS, 0) > errors_before:
                tracker.counters["unavailable"] += 1
                raise PoolUnavailable(self._unavailable_message()) from e
            tracker.counters["exhausted"] += 1
            raise PoolExhausted(self._exhausted_message(str(e))) from e
        tracker.checkout(conn)
        return conn

    def putconn(self, conn: Any) -> None:
        self.tracker.checkin(conn)
        mode = self.reset_mode
        if mode != "never" and not self.closed and not conn.closed:
            if mode == "always" or conn.__dict__.get(DIRTY):
                self._reset_or_discard(conn)
            elif conn.pgconn.transaction_status != TransactionStatus.IDLE:
                self._reset_or_discard(conn, rollback_only=True)
        super().putconn(conn)

    def _reset_or_discard(self, conn: Any, rollback_only: bool = False) -> None:
        counters = self.tracker.counters
        try:
            if rollback_only:
                conn.rollback()  # as psycopg_pool would, without its warning
            else:
                self.reset_session(conn)
                counters["resets"] += 1
        except psycopg.Error as e:
            counters["reset_failures"] += 1
            logger.warning("Discarding a connection of %r: its reset failed: %s", self.alias, e)
            conn.close()  # psycopg_pool then replaces it

    def _probe(self, deadline: float) -> Any:
        """Breaker not closed: refuse at once, or be the one caller that tries the server,
        or wait (within this checkout's ``timeout``) for the caller that is trying it.

        A successful probe closes the breaker and its connection is handed to the caller
        (counted as one more pool connection; the pool shrinks back when idle), so the
        first request after an outage does not wait for the pool's reconnect backoff.
        Callers that waited for a successful probe connect the same way when the pool has
        no idle connection yet, for the same reason; if the probe failed, they fail at once.
        ``None``: the breaker is closed and connections are ready, check out as usual.
        """
        admission = self.breaker.acquire(wait=max(0.0, deadline - time.monotonic()))
        if admission == "refused":
            self.tracker.counters["breaker_rejections"] += 1
            raise PoolUnavailable(self._unavailable_message())
        if admission == "closed" and self._pool:
            return None  # idle connections are ready: take one the usual way
        try:
            conn = self._attempt(max(0.1, deadline - time.monotonic()), probe=True)
        except psycopg.Error as e:
            self.tracker.counters["breaker_rejections"] += 1
            raise PoolUnavailable(self._unavailable_message()) from e
        with self._lock:
            self._nconns += 1
        if admission == "trial":
            self.drain()  # the server is back: replace connections made before the outage
        return conn

    def _exhausted_message(self, detail: str) -> str:
        stats = self.get_stats()
        holders = "; ".join(self.tracker.describe_holders()) or "none tracked"
        return (
            f"Connection pool of database {self.alias!r} is exhausted: "
            f"{stats.get('pool_size', 0)} of max {self.max_size} connections in use, "
            f"{stats.get('requests_waiting', 0)} requests waiting ({detail}). "
            f"Held by: {holders}. Return connections sooner (close_old_connections() in "
            "threads and tasks), raise OPTIONS['pool']['max_size'], or see "
            "`manage.py dbopt_pool` for sizing advice."
        )

    def _unavailable_message(self) -> str:
        return (
            f"Database {self.alias!r} is unreachable: connecting failed "
            f"{self.breaker.failures}+ times in a row (last error: "
            f"{self.last_connect_error or 'unknown'}). Calls fail at once while it stays "
            "unreachable; one call at a time tries to connect again "
            "(DBOPT['POOL']['CONNECT_FAILURES_TO_OPEN'], ['BREAKER_RESET_S'])."
        )

    # -- psycopg_pool hooks -------------------------------------------------------------
    def _connect(self, timeout: float | None = None) -> Any:
        return self._attempt(timeout, probe=False)

    def _attempt(self, timeout: float | None, probe: bool) -> Any:
        """Connect, telling the breaker. Once it is open, only probes move it: the pool's
        own background retries do not keep pushing the next probe further away."""
        try:
            conn = super()._connect(timeout)
        except psycopg.Error as e:
            self.last_connect_error = (str(e).strip().splitlines() or [repr(e)])[0]
            if probe or self.breaker.state == "closed":
                self.breaker.failure()
                if self.breaker.state != "closed":
                    self._fail_waiting()
            raise
        self.breaker.success()
        return conn

    def _get_ready_connection(self, timeout: float | None) -> Any:
        # Runs under the pool's lock just before a client would queue: a breaker that
        # opened since ``getconn`` looked fails it now (``_fail_waiting`` takes the same
        # lock, so a client is either refused here or failed in the queue).
        conn = super()._get_ready_connection(timeout)
        if conn is None and self.breaker.state != "closed":
            self.tracker.counters["breaker_rejections"] += 1
            raise PoolUnavailable(self._unavailable_message())
        return conn

    def _fail_waiting(self) -> None:
        """The breaker opened: clients queued for a connection fail now, not at timeout."""
        with self._lock:
            waiting = list(self._waiting)
            self._waiting.clear()
        for position in waiting:
            position.fail(PoolUnavailable(self._unavailable_message()))

    def _check_connection(self, conn: Any) -> None:
        if not is_alive(conn):
            self.tracker.counters["dead_on_checkout"] += 1
            logger.info("Discarding dead connections of database %r.", self.alias)
            self.drain()
            raise psycopg.OperationalError("the server closed the connection")
        super()._check_connection(conn)

    def reset_session(self, conn: Any) -> None:
        """Reset a returning connection's session state, then redo Django's set-up."""
        if conn.pgconn.transaction_status != TransactionStatus.IDLE:
            conn.rollback()
        conn.autocommit = True
        conn.execute(self.reset_sql, prepare=False)  # several statements: never prepared
        self._django_configure(conn)  # Django's set-up again (role; time zone if changed)
        conn.__dict__[DIRTY] = False

    def close(self, timeout: float = 5.0) -> None:
        from django_dbopt.pool.stats import retire

        retire(self)
        super().close(timeout)


def is_alive(conn: Any) -> bool:
    """No round trip: the socket of an idle pooled connection has nothing to read, unless
    the server sent something unasked: almost always the error and end of a connection it
    is closing (restart, ``pg_terminate_backend``). Pooled sessions are reset with
    ``UNLISTEN *``, so notifications do not count; anything readable means "replace it"."""
    pgconn = conn.pgconn
    if pgconn.status != ConnStatus.OK:
        return False
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN)
    return not poller.poll(0)

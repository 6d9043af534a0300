"""Client-side time limit on replica reads: a read whose server shows no sign of life is cut.

PostgreSQL sends nothing while it runs a query, so silence alone cannot tell a long query
from a hung server, and TCP cannot either: a hung server's kernel (or a proxy's) still
acknowledges everything, so keepalives and ``tcp_user_timeout`` see a healthy peer. So:

- every read on a replica (the routing execute wrapper) registers its socket here;
- once a read has run ``READ_TIMEOUT_S`` with no sign of life from its server, this
  module's thread pings the server (``SELECT 1`` on a connection of its own). An answer,
  a successful health probe, or any other read on that replica finishing, is a sign of
  life: the read goes on, however long it takes (pinged again every ``READ_TIMEOUT_S``);
- a ping not answered within ``READ_TIMEOUT_S`` (or failing) means the server is hung or
  gone: the read's socket is shut down (``shutdown(2)`` from this thread wakes the
  blocked read at once with an error), the routing wrapper runs the read again on the
  primary (outside a transaction) and the replica's breaker opens.

A read on a hung replica therefore ends about ``2 x READ_TIMEOUT_S`` after its server's
last sign of life; a long query on a live replica is never cut (``statement_timeout``
is the limit for those).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Any

import psycopg
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger("django_dbopt.routing")

#: the watchdog looks at in-flight reads this often (at most)
TICK_S = 0.05


class Read:
    """One read in flight on a replica."""

    __slots__ = ("alias", "cut", "fd", "limit", "started")

    def __init__(self, alias: str, fd: int, limit: float) -> None:
        self.alias = alias
        self.fd = fd
        self.limit = limit
        self.started = time.monotonic()
        #: set when the watchdog shut the read's socket down
        self.cut = False


def shutdown_fd(fd: int) -> None:
    """Wake whatever blocks on socket ``fd`` (the fd stays open: its owner closes it)."""
    sock = socket.socket(fileno=fd)
    try:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.detach()


class Watchdog:
    def __init__(self) -> None:
        self._setup()

    def after_fork(self) -> None:
        """A forked child starts with no thread and no state (``routing.wiring``)."""
        self._setup()

    def _setup(self) -> None:
        self._lock = threading.Lock()
        self._reads: set[Read] = set()
        #: alias -> monotonic time of the server's last sign of life
        self._alive: dict[str, float] = {}
        #: alias -> monotonic time the ping in flight started
        self._pings: dict[str, float] = {}
        #: alias -> monotonic time a ping failed (its reads are cut for a while)
        self._failed: dict[str, float] = {}
        #: alias -> the ping connection (used by one ping thread at a time)
        self._ping_conns: dict[str, psycopg.Connection[Any]] = {}
        self._thread: threading.Thread | None = None
        self.cuts = 0

    # -- the request path ----------------------------------------------------------------
    def watch(self, alias: str, fd: int, limit: float) -> Read:
        read = Read(alias, fd, limit)
        with self._lock:
            self._reads.add(read)
        if self._thread is None:
            self._start()
        return read

    def done(self, read: Read) -> None:
        with self._lock:
            self._reads.discard(read)
            if not read.cut:
                self._alive[read.alias] = time.monotonic()
                self._failed.pop(read.alias, None)

    def alive(self, alias: str) -> None:
        """A sign of life from ``alias`` seen elsewhere (a health probe answered)."""
        with self._lock:
            self._alive[alias] = time.monotonic()
            self._failed.pop(alias, None)

    def close(self) -> None:
        """Close the ping connections not in use (tests; when probing stops)."""
        with self._lock:
            for alias in [a for a in self._ping_conns if a not in self._pings]:
                with contextlib.suppress(psycopg.Error):
                    self._ping_conns.pop(alias).close()

    # -- the watchdog thread -------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="dbopt-read-watchdog")
            self._thread.daemon = True
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(TICK_S)
            try:
                self.check()
            except Exception:  # the watchdog must outlive any bug: log it and go on
                logger.exception("replica read watchdog failed")

    def check(self, now: float | None = None) -> None:
        """Ping the servers of reads that have been silent too long; cut hung ones."""
        now = time.monotonic() if now is None else now
        to_ping: list[tuple[str, float]] = []
        with self._lock:
            for read in list(self._reads):
                last = max(read.started, self._alive.get(read.alias, 0.0))
                if now - last < read.limit:
                    continue
                failed = self._failed.get(read.alias)
                if failed is not None and now - failed < read.limit:
                    self._cut(read)  # a ping just failed: the server is not answering
                    continue
                pinged = self._pings.get(read.alias)
                if pinged is None:
                    self._pings[read.alias] = now
                    to_ping.append((read.alias, read.limit))
                elif pinged < last or now - pinged >= read.limit:
                    self._cut(read)  # the ping did not answer in time
        for alias, limit in to_ping:
            threading.Thread(
                target=self._ping, args=(alias, limit), name="dbopt-replica-ping", daemon=True
            ).start()

    def _cut(self, read: Read) -> None:
        """Shut a hung read's socket down (with the lock held: the fd is still its own)."""
        read.cut = True
        self._reads.discard(read)
        self.cuts += 1
        shutdown_fd(read.fd)
        conn = self._ping_conns.get(read.alias)
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error, OSError):
                shutdown_fd(conn.pgconn.socket)  # a ping stuck on it ends too

    def _ping(self, alias: str, limit: float) -> None:
        from django_dbopt.routing.probe import connect_kwargs

        try:
            conn = self._ping_conns.get(alias)
            if conn is not None and not conn.closed:
                try:
                    conn.execute("SELECT 1")
                except psycopg.OperationalError:  # an idle connection the server dropped:
                    self._drop_ping_conn(alias)  # not a verdict; try a fresh one
                    conn = None
            if conn is None or conn.closed:
                conn = psycopg.connect(**connect_kwargs(alias, limit, "django_dbopt ping"))
                self._ping_conns[alias] = conn
                conn.execute("SELECT 1")
        except (psycopg.Error, OSError, ImproperlyConfigured) as e:
            logger.info("replica %s did not answer a liveness ping: %s", alias, e)
            self._drop_ping_conn(alias)
            with self._lock:
                self._failed[alias] = time.monotonic()
                self._pings.pop(alias, None)
            return
        with self._lock:
            self._alive[alias] = time.monotonic()
            self._failed.pop(alias, None)
            self._pings.pop(alias, None)

    def _drop_ping_conn(self, alias: str) -> None:
        # under the lock: ``_cut`` must never shut down a socket number already reused
        with self._lock:
            conn = self._ping_conns.pop(alias, None)
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    conn.close()


#: this process's watchdog
watchdog = Watchdog()

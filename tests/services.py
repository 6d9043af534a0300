"""Real services for the test suite: a PostgreSQL primary, a streaming hot standby, Redis.

``start_services()`` starts them on free ports in a temporary folder (as the ``postgres``
user when running as root, since PostgreSQL refuses root) and returns a ``Services``
whose helpers the feature tests use to make lag and failures for real:

- ``wait_for_replica()``: block until the standby has replayed the primary's current WAL;
- ``pause_replay()`` / ``resume_replay()``: ``pg_wal_replay_pause()`` and its undo;
- ``stop_standby()`` / ``start_standby()``; ``stop_redis()`` / ``start_redis()``.

When ``DBOPT_TEST_PRIMARY_URL``, ``DBOPT_TEST_REPLICA_URL`` and ``DBOPT_TEST_REDIS_URL``
are set, those servers are used instead and the stop/start helpers are unavailable
(tests that need them skip).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ENV_PRIMARY = "DBOPT_TEST_PRIMARY_URL"
ENV_REPLICA = "DBOPT_TEST_REPLICA_URL"
ENV_REDIS = "DBOPT_TEST_REDIS_URL"

#: settings for a throwaway cluster: fast, replicating, never durable
PRIMARY_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
max_connections = 200
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '512MB'
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
max_standby_streaming_delay = 5s
shared_preload_libraries = 'pg_stat_statements'
fsync = off
full_page_writes = off
log_min_messages = warning
logging_collector = off
"""


class ServiceError(RuntimeError):
    """A test service could not be started or controlled."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pg_bindir() -> Path:
    """The newest PostgreSQL server binaries on this machine (``DBOPT_PG_BINDIR`` wins)."""
    if env := os.environ.get("DBOPT_PG_BINDIR"):
        return Path(env)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise ServiceError(
        "PostgreSQL server binaries not found: install postgresql (Debian: "
        "apt-get install postgresql) or set DBOPT_PG_BINDIR."
    )


def _as_user() -> str | None:
    """PostgreSQL refuses to run as root: run it as ``postgres`` then."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as e:
        raise ServiceError("running as root needs a 'postgres' system user") from e
    return "postgres"


def _run(cmd: list[str], user: str | None, timeout: float = 120) -> None:
    proc = subprocess.run(
        cmd, user=user, capture_output=True, text=True, timeout=timeout, check=False, cwd="/"
    )
    if proc.returncode != 0:
        raise ServiceError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")


def wait_until(predicate: object, timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class PgServer:
    """One PostgreSQL server (primary or standby) we started and can stop."""

    data: Path
    port: int
    log: Path
    user: str | None
    bindir: Path

    def pg_ctl(self, *args: str) -> None:
        _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), *args], self.user)

    def start(self) -> None:
        self.pg_ctl("-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@dataclass
class RedisServer:
    port: int
    folder: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.proc and self.proc.poll() is None:
            return
        binary = shutil.which("redis-server")
        if not binary:
            raise ServiceError("redis-server not found (Debian: apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _port_open(self.port), 20, f"redis on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.proc = None


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


@dataclass
class Services:
    primary_url: str
    replica_url: str
    redis_url: str
    folder: Path | None = None
    primary: PgServer | None = None
    standby: PgServer | None = None
    redis: RedisServer | None = None
    _paused: bool = field(default=False, repr=False)

    @property
    def controllable(self) -> bool:
        """True when this suite started the servers, so it may stop and start them."""
        return self.standby is not None and self.redis is not None

    # -- connections -------------------------------------------------------------------
    def connect(self, which: str = "primary", dbname: str = "postgres") -> psycopg.Connection:
        url = self.primary_url if which == "primary" else self.replica_url
        parts = urlsplit(url)
        return psycopg.connect(
            host=parts.hostname,
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password,
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )

    def _scalar(self, which: str, sql: str) -> object:
        with self.connect(which) as conn:
            row = conn.execute(sql).fetchone()
            return row[0] if row else None

    # -- replication -------------------------------------------------------------------
    def primary_lsn(self) -> str:
        return str(self._scalar("primary", "SELECT pg_current_wal_lsn()"))

    def replayed_lsn(self) -> str:
        return str(self._scalar("replica", "SELECT pg_last_wal_replay_lsn()"))

    def replica_caught_up(self, lsn: str) -> bool:
        sql = f"SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '{lsn}'::pg_lsn) >= 0"
        return bool(self._scalar("replica", sql))

    def wait_for_replica(self, timeout: float = 15) -> None:
        """Block until the standby has replayed everything the primary has written so far."""
        lsn = self.primary_lsn()
        wait_until(lambda: self.replica_caught_up(lsn), timeout, f"replica to replay {lsn}")

    def pause_replay(self) -> None:
        with self.connect("replica") as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            wait_until(
                lambda: (
                    conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()
                    == ("paused",)
                ),
                10,
                "replay to pause",
            )
        self._paused = True

    def resume_replay(self) -> None:
        with self.connect("replica") as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        self._paused = False

    @contextlib.contextmanager
    def replay_paused(self) -> Iterator[None]:
        self.pause_replay()
        try:
            yield
        finally:
            self.resume_replay()

    # -- failures ----------------------------------------------------------------------
    def _need_control(self) -> None:
        if not self.controllable:
            raise ServiceError("these servers were not started by the suite; cannot stop them")

    def stop_standby(self) -> None:
        self._need_control()
        assert self.standby is not None
        self.standby.stop("immediate")

    def start_standby(self) -> None:
        self._need_control()
        assert self.standby is not None
        self.standby.start()
        wait_until(lambda: _accepts(self), 30, "standby to accept connections", 0.1)

    def stop_redis(self) -> None:
        self._need_control()
        assert self.redis is not None
        self.redis.stop()

    def start_redis(self) -> None:
        self._need_control()
        assert self.redis is not None
        self.redis.start()

    def stop(self) -> None:
        """Stop everything this suite started and remove its folder."""
        for server in (self.standby, self.primary):
            if server is not None and server.running:
                with contextlib.suppress(ServiceError, subprocess.TimeoutExpired):
                    server.stop("immediate")
        if self.redis is not None:
            self.redis.stop()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _accepts(services: Services) -> bool:
    try:
        services._scalar("replica", "SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def start_services() -> Services:
    """Attach to the servers named in the environment, or start our own."""
    urls = [os.environ.get(k) for k in (ENV_PRIMARY, ENV_REPLICA, ENV_REDIS)]
    if all(urls):
        return Services(*urls)  # type: ignore[arg-type]
    if any(urls):
        raise ServiceError(f"set all of {ENV_PRIMARY}, {ENV_REPLICA}, {ENV_REDIS} or none")

    user = _as_user()
    bindir = pg_bindir()
    folder = Path(tempfile.mkdtemp(prefix="dbopt-test-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    services = Services("", "", "", folder=folder)
    try:
        primary = PgServer(folder / "primary", free_port(), folder / "primary.log", user, bindir)
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(primary.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            user,
        )
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write(PRIMARY_CONF.format(port=primary.port, sockets=folder))
        primary.start()
        services.primary = primary

        standby = PgServer(folder / "standby", free_port(), folder / "standby.log", user, bindir)
        _run(
            [
                str(bindir / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(standby.data),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ],
            user,
        )
        with (standby.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {standby.port}\n")
        standby.start()
        services.standby = standby

        redis = RedisServer(free_port(), folder)
        redis.start()
        services.redis = redis

        services.primary_url = f"postgres://postgres@127.0.0.1:{primary.port}/postgres"
        services.replica_url = f"postgres://postgres@127.0.0.1:{standby.port}/postgres"
        services.redis_url = f"redis://127.0.0.1:{redis.port}/0"
        wait_until(lambda: _accepts(services), 30, "standby to accept connections", 0.1)
    except BaseException:
        services.stop()
        raise
    return services

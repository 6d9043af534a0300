"""Point-in-time recovery through pgBackRest, on a throwaway cluster of the test's own
(``archive_mode = on``, ``archive_command`` into an encrypted local repository), so the
suite's shared primary is untouched."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command

from django_dbopt.backup import physical
from django_dbopt.backup.checks import check_archive_command
from tests.pool_fixtures import extra_database
from tests.services import (
    PgServer,
    ServiceError,
    _as_user,
    _run,
    free_port,
    pg_bindir,
    wait_until,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pgbackrest") is None, reason="needs pgbackrest"),
]
STANZA = "pitr"
PASS_ENV = "DBOPT_TEST_PITR_PASS"
PASSPHRASE = "correct horse battery staple"


def _initdb(server: PgServer) -> None:
    _run([str(server.bindir / "initdb"), "-D", str(server.data), "-U", "postgres",
          "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"], server.user)  # fmt: skip


def start_with_env(server: PgServer, env: dict[str, str]) -> None:
    """Start a server with pgBackRest's secrets in its environment: its archive-push and
    archive-get need them too (as a service manager would set them), never in a file or
    on a command line."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        server.start()
    except ServiceError as e:
        raise ServiceError(f"{e}\n{server.log.read_text()[-3000:]}") from e
    finally:
        for k, v in saved.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v


def start_with_passphrase(server: PgServer) -> None:
    start_with_env(server, {"PGBACKREST_REPO1_CIPHER_PASS": PASSPHRASE})


@contextlib.contextmanager
def make_cluster(env: dict[str, str]) -> Iterator[tuple[PgServer, Path]]:
    """A throwaway cluster archiving to the stanza through ``<folder>/pgbackrest.conf``."""
    user = _as_user()
    folder = Path(tempfile.mkdtemp(prefix="dbopt-pitr-"))
    if user:
        shutil.chown(folder, user=user)
    server = PgServer(folder / "data", free_port(), folder / "pg.log", user, pg_bindir())
    _initdb(server)
    config = folder / "pgbackrest.conf"
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {server.port}\n"
            f"unix_socket_directories = '{folder}'\nwal_level = replica\n"
            f"archive_mode = on\narchive_command = 'pgbackrest --config={config} "
            f"--stanza={STANZA} archive-push %p'\nfsync = off\nmax_wal_size = 64MB\n"
        )
    start_with_env(server, env)
    try:
        yield server, folder
    finally:
        if server.running:
            server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[PgServer, Path]]:
    with make_cluster({"PGBACKREST_REPO1_CIPHER_PASS": PASSPHRASE}) as made:
        yield made


@pytest.fixture
def pitr(
    cluster: tuple[PgServer, Path], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[PgServer, Path]]:
    server, folder = cluster
    monkeypatch.setenv(PASS_ENV, PASSPHRASE)
    settings.DBOPT = {
        "BACKUP": {
            "PGBACKREST_STANZA": STANZA,
            "PGBACKREST_DATABASE": "pitr",
            "PGBACKREST_CONFIG": str(folder / "pgbackrest.conf"),
            "PGBACKREST_OS_USER": _as_user(),
            "PGBACKREST_CIPHER_PASS_ENV": PASS_ENV,
            "PGBACKREST_OPTIONS": {
                "repo1-path": str(folder / "repo"),
                "log-path": str(folder),
                "lock-path": str(folder),
                "pg1-socket-path": str(folder),
                "start-fast": "y",
                "archive-timeout": "60",
                "repo1-retention-full": "2",
            },
        }
    }
    conf = {"ENGINE": "django.db.backends.postgresql", "NAME": "postgres", "HOST": "127.0.0.1",
            "PORT": str(server.port), "USER": "postgres"}  # fmt: skip
    with extra_database("pitr", conf):
        yield server, folder


def connect(port: int) -> psycopg.Connection[Any]:
    return psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                           autocommit=True, connect_timeout=5)  # fmt: skip


def command(*args: str) -> Any:
    out = StringIO()
    call_command(*args, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def past_the_backups_second(conn: psycopg.Connection[Any]) -> None:
    """pgBackRest picks the backup set by whole seconds: a target in the second the backup
    ended finds none ("unable to find backup set with stop time less than"), so rows are
    written once the server's clock is two seconds on."""
    row = conn.execute("SELECT floor(extract(epoch FROM clock_timestamp()))").fetchone()
    assert row is not None
    ended = float(row[0])

    def seconds_later() -> bool:
        now = conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
        return bool(now and float(now[0]) >= ended + 2)

    wait_until(seconds_later, 10, "two seconds past the backup's end", 0.05)


def test_recover_deleted_rows_to_a_point_in_time(pitr: tuple[PgServer, Path]) -> None:
    server, folder = pitr
    full = command("dbopt_backup", "--physical", "full", "--database", "pitr")
    assert full["type"] == "full"
    config_text = (folder / "pgbackrest.conf").read_text()
    assert "correct horse" not in config_text  # the passphrase stays in the environment
    assert "repo1-cipher-type=aes-256-cbc" in config_text

    with connect(server.port) as conn:
        past_the_backups_second(conn)
        conn.execute("CREATE TABLE precious (id int PRIMARY KEY, what text)")
        conn.execute("INSERT INTO precious VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        row = conn.execute("SELECT clock_timestamp()::text").fetchone()
        assert row is not None
        noted = row[0]
        conn.execute("DELETE FROM precious")
        segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert segment is not None

        def archived() -> bool:
            last = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
            return bool(last and last[0] and last[0] >= segment[0])

        wait_until(archived, 60, "the WAL with the delete to be archived", 0.2)
    status = physical.archive_status()
    assert status["lag_s"] == 0.0
    assert physical.archive_command_problem(status) is None
    assert check_archive_command(databases=["default", "pitr"]) == []

    listed = command("dbopt_backups", "list", "--physical", "--database", "pitr")
    assert full["label"] in [b["label"] for b in listed]  # other tests' backups may be there
    report = physical.verify_repository("pitr")
    assert report["ok"] is True, report["report"]

    target = folder / "restored"
    command("dbopt_restore", "--pitr", noted, "--to", str(target), "--database", "pitr")
    restored = PgServer(target, free_port(), folder / "restored.log", server.user, server.bindir)
    with (target / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"port = {restored.port}\narchive_mode = off\n")
    start_with_passphrase(restored)
    try:

        def promoted() -> bool:
            try:
                with connect(restored.port) as c:
                    return c.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
            except psycopg.OperationalError:
                return False

        wait_until(promoted, 120, "the restored cluster to finish recovery", 0.2)
        with connect(restored.port) as conn:
            rows = conn.execute("SELECT id, what FROM precious ORDER BY id").fetchall()
        assert rows == [(1, "a"), (2, "b"), (3, "c")]
    finally:
        restored.stop("immediate")
    with connect(server.port) as conn:  # the live cluster still has them deleted
        assert conn.execute("SELECT count(*) FROM precious").fetchone() == (0,)


def test_pgbackrest_verify_exit_0_on_corruption_is_read_as_failure(
    pitr: tuple[PgServer, Path],
) -> None:
    _, folder = pitr
    command("dbopt_backup", "--physical", "full", "--database", "pitr")
    backups = folder / "repo" / "backup" / STANZA
    newest = sorted(p for p in backups.iterdir() if p.is_dir() and p.name[0].isdigit())[-1]
    victim = max(
        (newest / "pg_data").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else 0
    )
    original = victim.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    try:
        report = physical.verify_repository("pitr")
        assert report["ok"] is False
        assert any("invalid" in p for p in report["problems"])
        with pytest.raises(Exception, match="failed verification"):
            call_command(
                "dbopt_backups", "verify", "--physical", "--database", "pitr", stdout=StringIO()
            )
    finally:
        # the cluster is shared by this module's tests, in any order: leave the repository
        # whole, or the point-in-time test's verify finds this corruption
        victim.write_bytes(original)


def test_archive_command_check_warns_when_not_pointed_at_the_stanza(
    pitr: tuple[PgServer, Path],
) -> None:
    server, _ = pitr
    with connect(server.port) as conn:
        conn.execute("ALTER SYSTEM SET archive_command = 'true'")
        conn.execute("SELECT pg_reload_conf()")
        try:
            wait_until(lambda: conn.execute("SHOW archive_command").fetchone() == ("true",),
                       10, "reload")  # fmt: skip
            (warning,) = check_archive_command(databases=["pitr"])
            assert warning.id == "django_dbopt.W063"
            assert "does not run pgbackrest" in warning.msg
        finally:
            conn.execute("ALTER SYSTEM RESET archive_command")
            conn.execute("SELECT pg_reload_conf()")

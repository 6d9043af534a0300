"""Point-in-time recovery with pgBackRest's repository on S3: moto's server behind stunnel
(pgBackRest speaks S3 over TLS only; a self-signed certificate for ``localhost``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from django_dbopt.backup import physical
from tests.backup_fixtures import make_bucket
from tests.pool_fixtures import extra_database
from tests.services import (
    PgServer,
    _as_user,
    _port_open,
    free_port,
    pg_bindir,
    wait_until,
)
from tests.test_backup_pitr import STANZA, command, connect, make_cluster

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("pgbackrest") and shutil.which("stunnel4") and shutil.which("openssl")),
        reason="needs pgbackrest, stunnel4 and openssl",
    ),
]
S3_ENV = {"PGBACKREST_REPO1_S3_KEY": "testing", "PGBACKREST_REPO1_S3_KEY_SECRET": "testing"}


@pytest.fixture(scope="module")
def tls_s3(s3_endpoint: str) -> Iterator[tuple[int, Path]]:
    """stunnel on a free port, TLS for ``localhost``, in front of moto's plain HTTP."""
    folder = Path(tempfile.mkdtemp(prefix="dbopt-stunnel-"))
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    cert.chmod(0o644)
    folder.chmod(0o755)
    port = free_port()
    moto_port = int(s3_endpoint.rsplit(":", 1)[1])
    (folder / "stunnel.conf").write_text(
        f"foreground = yes\npid =\n[s3]\naccept = 127.0.0.1:{port}\n"
        f"connect = 127.0.0.1:{moto_port}\ncert = {cert}\nkey = {key}\n"
    )
    proc = subprocess.Popen(
        ["stunnel4", str(folder / "stunnel.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: _port_open(port), 20, "stunnel")
        make_bucket(s3_endpoint, "pitr-repo")
        yield port, cert
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def s3_pitr(
    tls_s3: tuple[int, Path], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[PgServer, Path]]:
    port, cert = tls_s3
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    with make_cluster(S3_ENV) as (server, folder):
        settings.DBOPT = {
            "BACKUP": {
                "PGBACKREST_STANZA": STANZA,
                "PGBACKREST_DATABASE": "pitr",
                "PGBACKREST_CONFIG": str(folder / "pgbackrest.conf"),
                "PGBACKREST_OS_USER": _as_user(),
                "PGBACKREST_OPTIONS": {
                    "repo1-type": "s3",
                    "repo1-path": "/repo",
                    "repo1-s3-bucket": "pitr-repo",
                    "repo1-s3-endpoint": "localhost",
                    "repo1-storage-port": str(port),
                    "repo1-s3-region": "us-east-1",
                    "repo1-s3-uri-style": "path",
                    "repo1-storage-ca-file": str(cert),
                    "repo1-bundle": "y",
                    "repo1-retention-full": "2",
                    "log-path": str(folder),
                    "lock-path": str(folder),
                    "pg1-socket-path": str(folder),
                    "start-fast": "y",
                    "archive-timeout": "60",
                },
            }
        }
        conf = {"ENGINE": "django.db.backends.postgresql", "NAME": "postgres",
                "HOST": "127.0.0.1", "PORT": str(server.port), "USER": "postgres"}  # fmt: skip
        with extra_database("pitr", conf):
            yield server, folder


def test_recover_to_a_point_in_time_from_s3(s3_pitr: tuple[PgServer, Path]) -> None:
    from tests.test_backup_pitr import past_the_backups_second, start_with_env

    server, folder = s3_pitr
    full = command("dbopt_backup", "--physical", "full", "--database", "pitr")
    assert "testing" not in (folder / "pgbackrest.conf").read_text()
    with connect(server.port) as conn:
        past_the_backups_second(conn)
        conn.execute("CREATE TABLE precious (id int PRIMARY KEY)")
        conn.execute("INSERT INTO precious SELECT generate_series(1, 5)")
        row = conn.execute("SELECT clock_timestamp()::text").fetchone()
        assert row is not None
        noted = row[0]
        conn.execute("DELETE FROM precious")
        segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert segment is not None

        def archived() -> bool:
            last = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
            return bool(last and last[0] and last[0] >= segment[0])

        wait_until(archived, 60, "the WAL with the delete to be archived to S3", 0.2)
    assert [b["label"] for b in physical.physical_backups("pitr")] == [full["label"]]
    assert physical.verify_repository("pitr")["ok"] is True

    target = folder / "restored"
    command("dbopt_restore", "--pitr", noted, "--to", str(target), "--database", "pitr")
    restored = PgServer(target, free_port(), folder / "restored.log", server.user, pg_bindir())
    with (target / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"port = {restored.port}\narchive_mode = off\n")
    start_with_env(restored, S3_ENV)
    try:

        def promoted() -> bool:
            try:
                with connect(restored.port) as c:
                    return c.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
            except psycopg.OperationalError:
                return False

        wait_until(promoted, 120, "the restored cluster to finish recovery", 0.2)
        with connect(restored.port) as conn:
            assert conn.execute("SELECT count(*) FROM precious").fetchone() == (5,)
    finally:
        restored.stop("immediate")

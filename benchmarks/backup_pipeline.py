"""The backup pipeline against ``pg_dump -Fc -Z0 | zstd -3 > file``, side by side.

    .venv/bin/python benchmarks/backup_pipeline.py [--mb 300] [--rounds 3] [--no-s3]

Starts the test services (tests.services.start_services) unless ``DBOPT_TEST_*`` point
at running ones, fills a database with ~``--mb`` MB of table data, then, rounds
interleaved so a busy machine hurts each alike (medians printed):

1. **to a file**: the shell pipeline ``pg_dump -Fc -Z0 | zstd -3 -q > file`` (the
   baseline) vs django-dbopt's pipeline alone (``write_stream``: ``pg_dump -Fc -Z0``
   read, zstandard level 3 in its own thread, AES-256-GCM, SHA-256 of plain and stored
   bytes, written to a file) and vs the whole ``create_backup()`` (adds the exported
   snapshot, row counts of every table, the manifest; no verify);
2. **to S3** (moto's server on this machine, sharing the CPU): ``create_backup()`` to
   a bucket, reported against the same baseline;
3. **restore**: ``pg_restore -j2`` of a plain ``-Fc`` dump into a new database (the
   baseline) vs ``restore_backup()`` (decrypt + verify into a temporary file,
   ``pg_restore -j2`` into a new database, row counts compared with the manifest).

Ratios are throughput ratios (baseline time / ours): >= 0.9 is the target for 1.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB = "bench_backup"


def configure(primary_url: str, folder: Path) -> None:
    import django
    from django.conf import settings

    parts = urlsplit(primary_url)
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_dbopt"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": DB,
                "HOST": parts.hostname,
                "PORT": str(parts.port),
                "USER": parts.username or "postgres",
            }
        },
        DBOPT={
            "BACKUP": {
                "LOCATION": str(folder / "backups"),
                "ENCRYPTION_KEYS": {"bench": base64.b64encode(os.urandom(32)).decode()},
                "VERIFY_AFTER_BACKUP": False,
                "TEMP_DIR": str(folder),
            }
        },
        USE_TZ=True,
    )
    django.setup()


def fill(mb: int) -> None:
    from django_dbopt.backup import postgres

    with postgres.connect("default", "postgres") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    rows = mb * 1024 * 1024 // 200  # ~200 bytes per row on disk
    with postgres.connect("default") as conn:
        conn.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY, kind text, at timestamptz, "
            "payload text, score double precision)"
        )
        conn.execute(
            "INSERT INTO events SELECT g, 'kind' || (g %% 17), "
            "'2026-01-01'::timestamptz + g * interval '1 second', "
            "md5(g::text) || ' ' || md5((g * 7)::text) || ' user ' || (g %% 1000), "
            "random() FROM generate_series(1, %s) g",
            [rows],
        )
        conn.execute("CREATE TABLE users AS SELECT g AS id, 'user' || g || '@example.com' AS "
                     "email FROM generate_series(1, %s) g", [rows // 50])  # fmt: skip
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    print(f"database {DB}: {size[0] / 2**20:.0f} MB" if size else "")


def timed(fn: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def shell_baseline(out: Path) -> None:
    from django_dbopt.backup.postgres import pg_env

    subprocess.run(
        f"pg_dump -Fc -Z0 | zstd -3 -q -f -o {out}", shell=True, check=True, env=pg_env("default")
    )


def pipeline_only(out: Path) -> None:
    from django_dbopt.backup.crypto import current_key_id
    from django_dbopt.backup.pipeline import write_stream
    from django_dbopt.backup.postgres import pg_env

    proc = subprocess.Popen(
        ["pg_dump", "-Fc", "-Z0"], stdout=subprocess.PIPE, env=pg_env("default")
    )
    assert proc.stdout is not None
    with out.open("wb") as file:
        write_stream(proc.stdout, [file], "bench", current_key_id())
    proc.stdout.close()
    assert proc.wait() == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=300, help="table data to generate, MB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 (moto) part")
    args = parser.parse_args()

    from tests.services import start_services

    services = start_services()
    folder = Path(tempfile.mkdtemp(prefix="dbopt-bench-backup-"))
    try:
        configure(services.primary_url, folder)
        run(args, folder)
    finally:
        services.stop()
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def run(args: argparse.Namespace, folder: Path) -> None:
    from django.conf import settings
    from django.test.utils import override_settings

    from django_dbopt.backup import postgres
    from django_dbopt.backup.create import create_backup
    from django_dbopt.backup.restore import restore_backup

    fill(args.mb)
    times: dict[str, list[float]] = {k: [] for k in ("shell", "pipeline", "create", "s3")}
    sizes: dict[str, int] = {}
    s3 = None if args.no_s3 else start_s3()
    made: list[str] = []

    def create() -> None:
        made.append(create_backup().backup_id)

    modes: list[tuple[str, Callable[..., object], tuple[Path, ...]]] = [
        ("shell", shell_baseline, (folder / "shell.zst",)),
        ("pipeline", pipeline_only, (folder / "pipeline.bin",)),
        ("create", create, ()),
    ]
    for round_number in range(args.rounds):
        shift = round_number % len(modes)  # each mode goes first in turn
        for name, fn, fn_args in modes[shift:] + modes[:shift]:
            times[name].append(timed(fn, *fn_args))
        sizes["shell"] = (folder / "shell.zst").stat().st_size
        sizes["pipeline"] = (folder / "pipeline.bin").stat().st_size
        if s3 is not None:
            bucket_config = {**settings.DBOPT["BACKUP"], "LOCATION": None, **s3}
            with override_settings(DBOPT={"BACKUP": bucket_config}):
                times["s3"].append(timed(create_backup))
    base = statistics.median(times["shell"])
    print(f"\nbackup to a file, median of {args.rounds} (throughput ratio, >= 0.9x wanted):")
    print(
        f"  pg_dump -Fc -Z0 | zstd -3 > file     {base:7.2f} s   {sizes['shell'] / 2**20:7.1f} MB"
    )
    for name, label in (
        ("pipeline", "dbopt pipeline (write_stream)"),
        ("create", "dbopt create_backup()"),
    ):
        t = statistics.median(times[name])
        print(f"  {label:<36} {t:7.2f} s   ratio {base / t:.2f}x")
    print(
        f"  stored size: pipeline {sizes['pipeline'] / 2**20:.1f} MB, "
        f"zstd {sizes['shell'] / 2**20:.1f} MB"
    )
    if times["s3"]:
        t = statistics.median(times["s3"])
        print(
            f"\nbackup to S3 (moto on this machine), create_backup(): {t:.2f} s   "
            f"ratio {base / t:.2f}x"
        )

    plain = folder / "plain.dump"
    subprocess.run(
        ["pg_dump", "-Fc", "-f", str(plain)], check=True, env=postgres.pg_env("default")
    )
    restore_times: dict[str, list[float]] = {"pg": [], "dbopt": []}
    for i in range(args.rounds):
        target = f"bench_restore_pg_{i}"
        postgres.create_database("default", target)
        restore_times["pg"].append(timed(postgres.pg_restore, "default", str(plain), target, 2))
        postgres.drop_database("default", target)
        started = time.perf_counter()
        result = restore_backup(made[0], "default")
        restore_times["dbopt"].append(time.perf_counter() - started)
        postgres.drop_database("default", result.target)
    base = statistics.median(restore_times["pg"])
    ours = statistics.median(restore_times["dbopt"])
    print(f"\nrestore into a new database, median of {args.rounds}:")
    print(f"  pg_restore -j2 (plain -Fc dump)      {base:7.2f} s")
    print(f"  dbopt restore_backup() (-j2)         {ours:7.2f} s   ratio {base / ours:.2f}x")


def start_s3() -> dict[str, str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    from tests.backup_fixtures import make_bucket
    from tests.services import free_port

    port = free_port()
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    endpoint = f"http://127.0.0.1:{port}"
    make_bucket(endpoint, "bench")
    return {"S3_BUCKET": "bench", "S3_REGION": "us-east-1", "S3_ENDPOINT_URL": endpoint}


if __name__ == "__main__":
    main()

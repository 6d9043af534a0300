"""PostgreSQL: ``pg_dump -Fc -Z0`` in an exported snapshot, row counts in the same
snapshot, ``pg_restore`` into a new database, and the connection plumbing they share.

Connection settings reach ``pg_dump`` / ``pg_restore`` through ``PG*`` environment
variables, so a password never appears on a command line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import psycopg
from django.db import connections
from psycopg import sql

from django_dbopt.backup.errors import BackupError

USER_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""
_OPTION_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
}


def settings_of(alias: str) -> dict[str, Any]:
    return dict(connections[alias].settings_dict)


def pg_env(alias: str, dbname: str | None = None) -> dict[str, str]:
    """The environment for ``pg_dump`` / ``pg_restore``: the alias's connection settings."""
    s = settings_of(alias)
    env = dict(os.environ)
    pairs = {
        "PGHOST": s.get("HOST"),
        "PGPORT": s.get("PORT"),
        "PGUSER": s.get("USER"),
        "PGPASSWORD": s.get("PASSWORD"),
        "PGDATABASE": dbname or s.get("NAME"),
    }
    for option, name in _OPTION_ENV.items():
        pairs[name] = (s.get("OPTIONS") or {}).get(option)
    env.update({k: str(v) for k, v in pairs.items() if v})
    return env


def connect(alias: str, dbname: str | None = None) -> psycopg.Connection[Any]:
    """A plain autocommit psycopg connection with the alias's settings (outside Django)."""
    s = settings_of(alias)
    params = {
        "host": s.get("HOST") or None,
        "port": s.get("PORT") or None,
        "user": s.get("USER") or None,
        "password": s.get("PASSWORD") or None,
        "dbname": dbname or s.get("NAME"),
        **{k: v for k, v in (s.get("OPTIONS") or {}).items() if k in _OPTION_ENV},
    }
    try:
        return psycopg.connect(
            autocommit=True, connect_timeout=10, **{k: v for k, v in params.items() if v}
        )
    except psycopg.Error as e:
        raise BackupError(f"cannot connect to {alias!r}: {e}") from e


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found on PATH (Debian: apt-get install postgresql-client)")
    return found


def qualified(schema: str, table: str) -> str:
    return f"{schema}.{table}"


def count_rows(
    conn: psycopg.Connection[Any], tables: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    counted = []
    for schema, table in tables:
        query = sql.SQL("SELECT count(*) FROM ONLY {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        row = conn.execute(query).fetchone()
        counted.append({"name": qualified(schema, table), "rows": int(row[0]) if row else 0})
    return counted


def user_tables(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute(USER_TABLES).fetchall()]


@dataclass
class DumpInfo:
    server_version: str = ""
    server_version_num: int = 0
    database_name: str = ""
    database_bytes: int = 0
    tables: list[dict[str, Any]] = field(default_factory=list)


def _split(name: str) -> tuple[str, str]:
    schema, _, table = name.rpartition(".")
    return schema or "public", table


@contextlib.contextmanager
def dump(alias: str, tables: list[str] | None = None) -> Iterator[tuple[IO[bytes], DumpInfo]]:
    """Run ``pg_dump -Fc -Z0`` on an exported snapshot; yield its stdout and the info.

    Row counts are taken in the same snapshot, in a thread, while the dump streams; they
    are in ``info.tables`` once the block ends. Raises ``BackupError`` when pg_dump fails.
    """
    info = DumpInfo()
    with connect(alias) as conn:
        # counts in the exported snapshot: the transaction must keep it (REPEATABLE READ)
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        conn.autocommit = False
        row = conn.execute(
            "SELECT pg_export_snapshot(), current_setting('server_version'), "
            "current_setting('server_version_num')::int, current_database(), "
            "pg_database_size(current_database())",
            prepare=False,
        ).fetchone()
        assert row is not None
        snapshot, info.server_version, info.server_version_num = row[0], row[1], row[2]
        info.database_name, info.database_bytes = row[3], row[4]
        wanted = [_split(t) for t in tables] if tables is not None else user_tables(conn)
        args = [tool("pg_dump"), "-Fc", "-Z0", f"--snapshot={snapshot}", "--no-sync"]
        args += [f'--table="{s}"."{t}"' for s, t in wanted] if tables is not None else []
        proc = subprocess.Popen(  # noqa: S603 - fixed program, arguments built here
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=pg_env(alias)
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        errors: list[bytes] = []
        drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
        drain.start()
        counted: list[list[dict[str, Any]]] = []
        counter = threading.Thread(
            target=lambda: counted.append(count_rows(conn, wanted)), daemon=True
        )
        counter.start()  # in the same snapshot, while the dump streams
        try:
            yield proc.stdout, info
        except BaseException:
            proc.kill()
            raise
        finally:
            code = proc.wait()
            drain.join()
            counter.join()
            proc.stdout.close()
            proc.stderr.close()
            conn.rollback()
        if not counted:
            raise BackupError("counting rows in the dump's snapshot failed")
        info.tables = counted[0]
        if code != 0:
            raise BackupError(
                f"pg_dump failed ({code}): {b''.join(errors).decode(errors='replace').strip()}"
            )


def server_version_num(alias: str) -> int:
    with connect(alias) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
        assert row is not None
        return int(row[0])


def list_archive(path: str) -> int:
    """``pg_restore -l``: how many entries the archive's table of contents lists."""
    proc = subprocess.run(  # noqa: S603
        [tool("pg_restore"), "-l", path], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise BackupError(f"pg_restore -l failed: {proc.stderr.decode(errors='replace').strip()}")
    lines = proc.stdout.decode(errors="replace").splitlines()
    return sum(1 for line in lines if line.strip() and not line.startswith(";"))


def create_database(alias: str, name: str) -> None:
    with connect(alias) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))


def drop_database(alias: str, name: str) -> None:
    with connect(alias) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_exists(alias: str, name: str) -> bool:
    with connect(alias) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            is not None
        )


def pg_restore(
    alias: str, path: str, dbname: str, jobs: int, extra: list[str] | None = None
) -> None:
    args = [tool("pg_restore"), "--exit-on-error", "-d", dbname, *(extra or [])]
    if jobs > 1:
        args += ["-j", str(jobs)]
    proc = subprocess.run(  # noqa: S603
        [*args, path], capture_output=True, check=False, env=pg_env(alias, dbname)
    )
    if proc.returncode != 0:
        raise BackupError(f"pg_restore failed: {proc.stderr.decode(errors='replace').strip()}")


def counts_in(alias: str, dbname: str, names: list[str]) -> dict[str, int | None]:
    """Row counts of the named tables in ``dbname`` (``None``: the table is missing)."""
    found: dict[str, int | None] = {}
    with connect(alias, dbname) as conn:
        present = set(user_tables(conn))
        for name in names:
            key = _split(name)
            found[name] = count_rows(conn, [key])[0]["rows"] if key in present else None
    return found

"""Putting a partial backup's rows back into live tables (``dbopt_migrate`` rollback)."""

from __future__ import annotations

import os
from typing import Any

import psycopg
from psycopg import sql

from django_dbopt.backup import postgres
from django_dbopt.backup.errors import BackupError
from django_dbopt.backup.manifest import Manifest


def _ident(name: str) -> sql.Composed:
    schema, table = postgres._split(name)
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def _columns(conn: psycopg.Connection[Any], name: str) -> list[str]:
    schema, table = postgres._split(name)
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        [f'"{schema}"."{table}"'],
    ).fetchall()
    return [str(r[0]) for r in rows]


def copy_back(database: str, manifest: Manifest, dump: str, jobs: int) -> None:
    """Restore the dump into a scratch database, then, in one transaction on the live
    database with deferred constraints, empty each backed-up table and ``COPY`` its rows
    back. Row counts are checked before the commit."""
    scratch = f"dbopt_rollback_{os.urandom(4).hex()}"
    postgres.create_database(database, scratch)
    try:
        postgres.pg_restore(database, dump, scratch, jobs)
        with postgres.connect(database, scratch) as source, postgres.connect(database) as live:
            live.autocommit = False
            live.execute("SET CONSTRAINTS ALL DEFERRED")
            for name in manifest.row_counts():
                live.execute(sql.SQL("DELETE FROM {}").format(_ident(name)))
            for name, rows in manifest.row_counts().items():
                columns = sql.SQL(", ").join(sql.Identifier(c) for c in _columns(source, name))
                out = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(columns, _ident(name))
                into = sql.SQL("COPY {} ({}) FROM STDIN").format(_ident(name), columns)
                with source.cursor().copy(out) as reader, live.cursor().copy(into) as writer:
                    for block in reader:
                        writer.write(block)
                count = live.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(name)))
                found = count.fetchone()
                if not found or found[0] != rows:
                    live.rollback()
                    raise BackupError(f"{name}: {found} rows put back, the backup has {rows}")
            live.commit()
    except psycopg.Error as e:
        raise BackupError(f"putting the tables back failed: {e}") from e
    finally:
        postgres.drop_database(database, scratch)

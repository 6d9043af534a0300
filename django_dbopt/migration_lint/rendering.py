"""The SQL Django would send to PostgreSQL for one migration operation, never run.

Operations are rendered by Django's own PostgreSQL schema editor with
``collect_sql=True`` (what ``sqlmigrate`` prints), on a connection object that never
connects: its cursor returns no rows, so introspection sees no existing constraints, and
parameters are quoted client-side. The lint therefore gives the same answer on SQLite,
with ``--offline`` and on a live server, and never touches the database it lints.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, NotSupportedError
from django.db.backends.postgresql.base import DatabaseWrapper
from django.db.backends.postgresql.operations import DatabaseOperations
from django.db.backends.postgresql.psycopg_any import sql
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

#: the server version assumed when no live PostgreSQL says otherwise
DEFAULT_PG_VERSION = 150000

_SETTINGS: dict[str, Any] = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "",
    "USER": "",
    "PASSWORD": "",
    "HOST": "",
    "PORT": "",
    "OPTIONS": {},
    "TIME_ZONE": None,
    "CONN_MAX_AGE": 0,
    "CONN_HEALTH_CHECKS": False,
    "AUTOCOMMIT": True,
    "ATOMIC_REQUESTS": False,
    "TEST": {},
}


class RenderError(Exception):
    """Django could not render an operation's SQL without a database."""


class _NoRowsCursor:
    """A DB-API cursor that runs nothing and returns no rows."""

    description = None
    rowcount = 0

    def execute(self, sql: str, params: Any = None) -> None:
        return None

    def executemany(self, sql: str, param_list: Any) -> None:
        return None

    def fetchone(self) -> None:
        return None

    def fetchmany(self, size: int = 0) -> list[Any]:
        return []

    def fetchall(self) -> list[Any]:
        return []

    def close(self) -> None:
        return None

    def __iter__(self) -> Any:
        return iter(())


class _Operations(DatabaseOperations):
    def compose_sql(self, sql_text: str, params: Any) -> str:
        if not params:
            return sql_text
        return sql_text % tuple(sql.quote(p) for p in params)


class _OfflineConnection(DatabaseWrapper):
    """Django's PostgreSQL backend without a server: for rendering SQL only."""

    ops_class = _Operations

    def ensure_connection(self) -> None:
        return None

    def create_cursor(self, name: Any = None) -> Any:
        return _NoRowsCursor()


def offline_connection(alias: str, pg_version: int | None = None) -> DatabaseWrapper:
    """A PostgreSQL connection object named ``alias`` (so routers answer as for it)."""
    connection = _OfflineConnection(dict(_SETTINGS), alias)
    connection.__dict__["pg_version"] = pg_version or DEFAULT_PG_VERSION
    return connection


def render(
    connection: DatabaseWrapper,
    app_label: str,
    operation: Operation,
    from_state: ProjectState,
    to_state: ProjectState,
) -> list[str]:
    """The statements ``operation`` would run, deferred ones (indexes, FKs) included.

    Raises ``RenderError`` when Django needs the real database to decide (e.g. removing
    a constraint it must look up by introspection).
    """
    try:
        with connection.schema_editor(collect_sql=True, atomic=False) as editor:
            operation.database_forwards(app_label, editor, from_state, to_state)
    except (ValueError, LookupError, NotSupportedError, DatabaseError) as e:
        raise RenderError(str(e)) from e
    return [str(statement) for statement in editor.collected_sql]

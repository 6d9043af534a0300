"""Shared by the adversarial ``dbopt_migrate`` tests: the attack app installed and
migrated for real, runs in JSON, and sessions outside Django that play other clients."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test import override_settings

APP = "migrate_attack_app"
FAST = {"LOCK_TIMEOUT_MS": 200, "RETRY_BACKOFF_S": 0.05, "CLEANUP_TIMEOUT_S": 30}

#: what migration 0004 runs: commits +50 on every account
CREDIT = """
CREATE OR REPLACE FUNCTION credit_everyone() RETURNS void LANGUAGE plpgsql AS
$$ BEGIN UPDATE migrate_attack_app_account SET balance = balance + 50; END $$
"""


@pytest.fixture
def attack_app(transactional_db: None) -> Iterator[None]:
    """``tests.migrate_attack_app`` installed; its migrations unapplied afterwards."""
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.migrate_attack_app"]):
        with connection.cursor() as cursor:
            cursor.execute(CREDIT)
        yield
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS account_note_idx")
            cursor.execute("DROP INDEX IF EXISTS ledger_amount_other_idx")
        call_command("migrate", APP, "zero", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("DROP FUNCTION IF EXISTS credit_everyone()")


def migrate_to(name: str) -> None:
    call_command("migrate", APP, name, verbosity=0)


def dbopt_migrate(
    *args: str, on_lint: Callable[[Any], None] | None = None, fast: bool = True, **options: Any
) -> tuple[dict[str, Any], int]:
    """One run, as the command would do it; ``on_lint`` is ``run()``'s hook; ``fast``:
    short lock timeouts and backoff (else the defaults, but for ``options``)."""
    from django_dbopt.migration_run import run

    with override_settings(DBOPT={"MIGRATIONS": {**(FAST if fast else {}), **options}}):
        if on_lint is None:
            out = StringIO()
            try:
                call_command("dbopt_migrate", APP, *args, "--format", "json", stdout=out)
                code = 0
            except CommandError as e:
                code = e.returncode
            return json.loads(out.getvalue()), code
        record = run("default", APP, *args, verbosity=0, on_lint=on_lint)
        code = {"failed": 1, "locked": 3, "refused": 4, "interrupted": 5}.get(record.outcome, 0)
        return record.as_dict(), code


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Runs ``target`` in a thread with its own Django connections; result in the list."""
    result: list[Any] = []

    def body() -> None:
        try:
            result.append(target())
        finally:
            connections.close_all()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, result


@contextmanager
def other_session(autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    params = connection.settings_dict
    conn = psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        user=params["USER"],
        password=params["PASSWORD"],
        dbname=params["NAME"],
        autocommit=autocommit,
    )
    try:
        yield conn
    finally:
        if not autocommit:
            conn.rollback()
        conn.close()


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def query(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with other_session(autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def waiting_statements(prefix: str) -> int:
    """How many sessions run a statement starting with ``prefix``."""
    rows = query(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query ILIKE %s",
        [prefix + "%"],
    )
    return int(rows[0][0])


def index_state(name: str) -> str:
    """``"missing"``, ``"valid"`` or ``"invalid"``."""
    rows = query(
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)", [name]
    )
    if not rows:
        return "missing"
    return "valid" if rows[0][0] else "invalid"

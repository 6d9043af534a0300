"""``manage.py dbopt_migrate`` on the real PostgreSQL: lint gate, advisory lock, lock
timeouts with retries, no INVALID index left behind, run records.

A second connection (psycopg, outside Django) plays the long transaction that blocks the
migration.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from django_dbopt.migration_run import ADVISORY_LOCK_KEY
from django_dbopt.migration_run.guard import session_timeouts
from tests.migrations_lint_fixtures import migrations_app  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("migrations_app")]

FAST = {"LOCK_TIMEOUT_MS": 200, "RETRY_BACKOFF_S": 0.05, "CLEANUP_TIMEOUT_S": 30}


@pytest.fixture
def app_db(transactional_db: None, migrations_app: None) -> Iterator[None]:  # noqa: F811
    """The test app's migrations run for real; unapplied again afterwards."""
    yield
    call_command("migrate", "migrations_app", "zero", verbosity=0)


def migrate_to(name: str) -> None:
    call_command("migrate", "migrations_app", name, verbosity=0)


def dbopt_migrate(*args: str, **settings: Any) -> tuple[dict[str, Any], int]:
    out = StringIO()
    with override_settings(DBOPT={"MIGRATIONS": {**FAST, **settings}}):
        try:
            call_command("dbopt_migrate", *args, "--format", "json", stdout=out)
            code = 0
        except CommandError as e:
            code = e.returncode
    return json.loads(out.getvalue()), code


@contextmanager
def other_session() -> Iterator[psycopg.Connection[Any]]:
    params = connection.settings_dict
    conn = psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        user=params["USER"],
        password=params["PASSWORD"],
        dbname=params["NAME"],
    )
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


def invalid_indexes() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid")
        return [name for (name,) in cursor.fetchall()]


def index_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return bool(cursor.fetchone()[0])


@pytest.mark.usefixtures("app_db")
def test_concurrent_build_blocked_by_a_long_transaction_retries_and_leaves_no_invalid_index() -> (
    None
):
    migrate_to("0002")
    with other_session() as blocker:
        blocker.execute("INSERT INTO migrations_app_item (code, qty) VALUES ('x', 1)")
        # the writer stays open for 2 s: CREATE INDEX CONCURRENTLY waits for it, hits
        # lock_timeout and leaves an INVALID index; it is dropped and the build retried
        threading.Timer(2.0, blocker.rollback).start()
        started = time.monotonic()
        record, code = dbopt_migrate("migrations_app", "0003")
    assert code == 0, json.dumps(record, indent=1)
    (step,) = record["migrations"]
    assert step["migration"] == "migrations_app.0003_index_code_concurrently"
    assert step["outcome"] == "applied"
    assert step["attempts"] >= 2
    assert "lock timeout" in step["errors"][0]
    assert step["dropped_invalid_indexes"] == ["public.item_code_idx"]
    assert time.monotonic() - started < 30
    assert invalid_indexes() == []
    assert index_exists("item_code_idx")


@pytest.mark.usefixtures("app_db")
def test_blocked_atomic_migration_waits_at_most_lock_timeout_per_attempt_then_fails() -> None:
    migrate_to("0001")
    with other_session() as blocker:
        blocker.execute("INSERT INTO migrations_app_item (code, qty) VALUES ('x', 1)")
        started = time.monotonic()
        record, code = dbopt_migrate("migrations_app", "0002", RETRIES=2)
        elapsed = time.monotonic() - started
    assert code == 1
    assert record["outcome"] == "failed"
    (step,) = record["migrations"]
    assert (step["outcome"], step["attempts"]) == ("failed", 3)
    assert all("lock timeout" in error for error in step["errors"])
    assert elapsed < 3 * 0.2 + 0.05 + 0.1 + 5  # three timeouts, two backoffs, slack
    assert not index_exists("item_name_idx")  # rolled back
    assert invalid_indexes() == []
    record, code = dbopt_migrate("migrations_app", "0002")  # blocker gone
    assert (code, record["outcome"]) == (0, "applied")
    assert index_exists("item_name_idx")


@pytest.mark.usefixtures("app_db")
def test_second_run_fails_while_another_holds_the_lock() -> None:
    migrate_to("0001")
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        pid = other.info.backend_pid
        record, code = dbopt_migrate("migrations_app", "0002")
        other.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
    assert code == 3
    assert record["outcome"] == "locked"
    assert f"server process {pid}" in record["error"]
    assert record["migrations"][0]["attempts"] == 0
    assert not index_exists("item_name_idx")


@pytest.mark.usefixtures("app_db")
def test_lint_errors_refuse_the_run_unless_forced() -> None:
    migrate_to("0004")
    record, code = dbopt_migrate("migrations_app")
    assert (code, record["outcome"]) == (4, "refused")
    assert record["lint"]["error"] == 1  # DBM009: the rename in 0005
    assert record["findings"] == [
        {
            "rule": "DBM009",
            "severity": "error",
            "migration": "migrations_app.0005_rename_code",
            "operation_index": 1,
            "table": "migrations_app_item",
        }
    ]
    assert record["migrations"][0]["attempts"] == 0
    record, code = dbopt_migrate("migrations_app", "--force")
    assert (code, record["outcome"], record["forced"]) == (0, "applied", True)


@pytest.mark.usefixtures("app_db")
def test_a_failure_that_is_not_a_lock_timeout_is_not_retried() -> None:
    migrate_to("0001")
    with connection.cursor() as cursor:
        cursor.execute('CREATE INDEX "item_name_idx" ON migrations_app_item (qty)')
    record, code = dbopt_migrate("migrations_app", "0002")
    assert code == 1
    step = record["migrations"][0]
    assert (step["outcome"], step["attempts"]) == ("failed", 1)
    assert "already exists" in step["errors"][0]


@pytest.mark.django_db(transaction=True)
def test_timeouts_apply_to_every_statement_even_after_a_reconnect_and_are_reset() -> None:
    def show() -> tuple[str, str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
            )
            return tuple(cursor.fetchone())  # type: ignore[return-value]

    default = show()
    with session_timeouts(connection, 1234, 5678):
        assert show() == ("1234ms", "5678ms")
        connection.close()  # a new session starts with the server's defaults...
        assert show() == ("1234ms", "5678ms")  # ...and gets the timeouts again
    assert show() == default


@pytest.mark.usefixtures("app_db")
def test_every_run_is_recorded(tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    dbopt_migrate("migrations_app", "0001", RUN_LOG=str(log))
    dbopt_migrate("migrations_app", "0001", RUN_LOG=str(log))
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert first["outcome"] == "applied"
    assert first["migrations"][0]["migration"] == "migrations_app.0001_initial"
    assert first["started_at"] <= first["finished_at"]
    assert second["outcome"] == "nothing to do"


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_a_standby_is_refused() -> None:
    """Issue 10: ``--database <a standby>`` answered "nothing to do" and exited 0."""
    out = StringIO()
    with pytest.raises(CommandError, match="in recovery") as raised:
        call_command("dbopt_migrate", "--database", "replica", stdout=out)
    assert raised.value.returncode == 2
    assert "replica" in str(raised.value)


@pytest.mark.usefixtures("app_db")
def test_text_output_gives_the_worst_reader_wait() -> None:
    migrate_to("0001")
    with other_session() as blocker:
        blocker.execute("INSERT INTO migrations_app_item (code, qty) VALUES ('x', 1)")
        threading.Timer(1.0, blocker.rollback).start()
        out = StringIO()
        with override_settings(DBOPT={"MIGRATIONS": {**FAST, "LOCK_TIMEOUT_MS": 50}}):
            call_command("dbopt_migrate", "migrations_app", "0002", stdout=out)
    text = out.getvalue()
    assert "migrations_app.0002_index_name: applied" in text
    match = re.search(
        r"worst wait a reader could have seen behind this run's locks: (\d+) ms", text
    )
    assert match is not None, text
    assert int(match.group(1)) > 0
    record, _ = dbopt_migrate("migrations_app", "0002")
    assert record["outcome"] == "nothing to do"

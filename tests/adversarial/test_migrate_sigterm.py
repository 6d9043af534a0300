"""Issue 11, item 16: SIGTERM in the middle of ``dbopt_migrate``.

The old run died on the signal with no run record; the server went on with the
``CREATE INDEX CONCURRENTLY`` it was running, and the next run failed on "relation
already exists" because Django had not recorded the migration. Now SIGTERM (like SIGINT)
cancels the running statement, records the run as ``interrupted`` and exits; the next run
reconciles with the catalog: an INVALID index of the step is dropped and rebuilt, an
index that exists, valid, with the exact name the step creates is recorded as done.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from tests.adversarial.migrate_helpers import (
    APP,
    attack_app,  # noqa: F401
    dbopt_migrate,
    index_state,
    migrate_to,
    other_session,
    wait_for,
    waiting_statements,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("attack_app")]

ROOT = Path(__file__).resolve().parents[2]


def applied() -> set[str]:
    return {n for a, n in MigrationRecorder(connection).applied_migrations() if a == APP}


def start_run(log: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.migrate_worker_settings",
        "DBOPT_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "DBOPT_TEST_MIGRATIONS": json.dumps({"LOCK_TIMEOUT_MS": 120_000, "RUN_LOG": str(log)}),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "django", "dbopt_migrate", APP, "0005"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_run_is_recorded_and_the_next_run_rebuilds(
    tmp_path: Path, signum: signal.Signals
) -> None:
    migrate_to("0004")
    log = tmp_path / "runs.jsonl"
    with other_session() as blocker:
        blocker.execute("INSERT INTO migrate_attack_app_account (balance) VALUES (1)")
        proc = start_run(log)
        try:
            wait_for(
                lambda: waiting_statements("CREATE INDEX CONCURRENTLY") > 0,
                "the subprocess's concurrent build to wait on the blocker",
            )
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 5, (out, err)
    assert "interrupted" in err
    (line,) = log.read_text().splitlines()
    record = json.loads(line)
    assert record["outcome"] == "interrupted"
    assert record["migrations"][0]["outcome"] == "interrupted"
    assert "0005_note_index" in record["error"]
    assert waiting_statements("CREATE INDEX CONCURRENTLY") == 0  # cancelled, not left running
    assert "0005_note_index" not in applied()
    # the next run drops the INVALID index the cancelled build left, and rebuilds it
    record, code = dbopt_migrate("0005")
    assert (code, record["outcome"]) == (0, "applied"), record
    (step,) = record["migrations"]
    assert step["outcome"] == "applied"
    assert step["dropped_invalid_indexes"] == ["public.account_note_idx"]
    assert "interrupted build: dropped, built again" in " ".join(step["notes"])
    assert index_state("account_note_idx") == "valid"


def test_an_index_the_server_finished_without_a_record_is_recorded_as_done() -> None:
    """A run killed (SIGKILL, lost host) after the server built the index."""
    migrate_to("0004")
    with other_session(autocommit=True) as session:
        session.execute(
            'CREATE INDEX CONCURRENTLY "account_note_idx" ON migrate_attack_app_account (note)'
        )
    record, code = dbopt_migrate("0005")
    assert (code, record["outcome"]) == (0, "applied"), record
    (step,) = record["migrations"]
    assert step["outcome"] == "skipped"
    assert "account_note_idx" in " ".join(step["notes"])
    assert "0005_note_index" in applied()
    assert index_state("account_note_idx") == "valid"


def test_an_invalid_index_left_by_a_killed_run_is_dropped_and_rebuilt() -> None:
    migrate_to("0004")
    with other_session() as blocker, other_session(autocommit=True) as session:
        blocker.execute("INSERT INTO migrate_attack_app_account (balance) VALUES (1)")
        session.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            session.execute(
                'CREATE INDEX CONCURRENTLY "account_note_idx" ON migrate_attack_app_account (note)'
            )
    assert index_state("account_note_idx") == "invalid"
    record, code = dbopt_migrate("0005")
    assert (code, record["outcome"]) == (0, "applied"), record
    (step,) = record["migrations"]
    assert step["outcome"] == "applied"
    assert step["dropped_invalid_indexes"] == ["public.account_note_idx"]
    assert "account_note_idx" in " ".join(step["notes"])
    assert index_state("account_note_idx") == "valid"

"""Issue 11, item 5: a retry must never re-run committed work of a non-atomic migration.

0004 runs ``SELECT credit_everyone()`` (commits +50 on every account), then an ALTER
TABLE that a long transaction blocks. The SELECT was not counted as progress, so each
lock timeout re-ran the migration from the start: 100 -> 250 over the retries instead of
150. Now every completed statement of a non-atomic migration counts: the run stops, says
where, and the balance is credited once.
"""

from __future__ import annotations

import pytest

from tests.adversarial.migrate_helpers import (
    attack_app,  # noqa: F401
    dbopt_migrate,
    migrate_to,
    other_session,
    query,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("attack_app")]


def test_committed_statement_of_a_non_atomic_migration_is_never_re_run() -> None:
    migrate_to("0003")
    with other_session(autocommit=True) as setup:
        setup.execute("INSERT INTO migrate_attack_app_account (balance) VALUES (100)")
    with other_session() as blocker:
        # holds a lock on the ledger: the ALTER TABLE after the credit times out
        blocker.execute("SELECT * FROM migrate_attack_app_ledger")
        record, code = dbopt_migrate("0004", RETRIES=3)
    (balance,) = query("SELECT balance FROM migrate_attack_app_account")[0]
    assert balance == 150, record
    assert (code, record["outcome"]) == (1, "failed")
    (step,) = record["migrations"]
    assert (step["outcome"], step["attempts"]) == ("failed", 1)
    assert "partly applied" in record["error"]
    assert "SELECT credit_everyone()" in record["error"]  # where it stopped
    assert "ALTER TABLE" in record["error"]  # and what failed

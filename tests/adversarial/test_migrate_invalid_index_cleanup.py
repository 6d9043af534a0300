"""Issue 11, item 4: the cleanup after a failed attempt must drop only the index the
failed statement was building, never another session's ``CREATE INDEX CONCURRENTLY``.

While our ``CREATE INDEX CONCURRENTLY account_note_idx`` waits on a long transaction and
times out, another session starts its own concurrent build on the ledger. Its index is
INVALID while it builds and appeared during our attempt: the old cleanup dropped every
such index, so it waited for that build to end and dropped the finished index.
"""

from __future__ import annotations

import pytest

from tests.adversarial.migrate_helpers import (
    attack_app,  # noqa: F401
    dbopt_migrate,
    in_thread,
    index_state,
    migrate_to,
    other_session,
    query,
    wait_for,
    waiting_statements,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("attack_app")]

OTHER = "ledger_amount_other_idx"


def building(name: str) -> bool:
    rows = query(
        "SELECT count(*) FROM pg_stat_progress_create_index p "
        "JOIN pg_class c ON c.oid = p.index_relid WHERE c.relname = %s",
        [name],
    )
    return bool(rows[0][0])


def test_cleanup_never_drops_another_sessions_concurrent_build() -> None:
    migrate_to("0004")
    with other_session() as blocker, other_session(autocommit=True) as builder:
        # an open transaction that wrote to both tables: both builds wait for it
        blocker.execute("INSERT INTO migrate_attack_app_account (balance) VALUES (1)")
        blocker.execute("INSERT INTO migrate_attack_app_ledger (amount) VALUES (1)")
        run, result = in_thread(
            lambda: dbopt_migrate("0005", RETRIES=0, LOCK_TIMEOUT_MS=6000, CLEANUP_TIMEOUT_S=60)
        )
        wait_for(lambda: index_state("account_note_idx") == "invalid", "our build to start")
        other, _ = in_thread(
            lambda: builder.execute(
                f"CREATE INDEX CONCURRENTLY {OTHER} ON migrate_attack_app_ledger (amount)"
            )
        )
        wait_for(lambda: building(OTHER), "the other session's build to start")
        # our attempt times out; its cleanup drop waits for the blocker: end it then
        wait_for(
            lambda: waiting_statements("DROP INDEX CONCURRENTLY") > 0 or not run.is_alive(),
            "the cleanup",
        )
        blocker.rollback()
        run.join(120)
        other.join(120)
    record, code = result[0]
    assert code == 1, record
    (step,) = record["migrations"]
    assert "lock timeout" in step["errors"][0]
    assert step["dropped_invalid_indexes"] == ["public.account_note_idx"]
    assert index_state("account_note_idx") == "missing"
    assert index_state(OTHER) == "valid"  # the other session's index was left alone

"""Issue 11, item 2: two ``dbopt_migrate`` runs must never unapply each other's work.

Run B plans [0002, 0003]; before B applies anything, run A applies both and the app
writes rows into the column 0003 added. B used to go on with ``migrate app 0002``, which
unapplied 0003 (dropping the column and its data), then re-applied it. Now a run takes the
advisory lock before it plans, and refuses any step whose plan would go backwards.

B's pause between planning and applying is ``run()``'s ``on_lint`` hook: A runs, in its
own thread and connection, while B waits there.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from tests.adversarial.migrate_helpers import (
    APP,
    attack_app,  # noqa: F401
    dbopt_migrate,
    in_thread,
    migrate_to,
    other_session,
    query,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("attack_app")]


def notes() -> list[Any]:
    return [n for (n,) in query("SELECT note FROM migrate_attack_app_account ORDER BY id")]


def has_note_column() -> bool:
    rows = query(
        "SELECT 1 FROM information_schema.columns WHERE table_name = "
        "'migrate_attack_app_account' AND column_name = 'note'"
    )
    return bool(rows)


def test_a_concurrent_run_never_makes_another_unapply_and_lose_rows() -> None:
    migrate_to("0001")
    outcome_a: list[Any] = []

    def while_b_is_planned(report: object) -> None:
        # run A, complete, in another thread while B sits between its plan and its steps
        thread, result = in_thread(lambda: dbopt_migrate("0003"))
        thread.join(120)
        outcome_a.extend(result)
        if has_note_column():  # A applied 0003: the app writes rows into the new column
            with other_session() as app:
                app.execute(
                    "INSERT INTO migrate_attack_app_account (balance, note) "
                    "VALUES (1, 'keep-1'), (2, 'keep-2')"
                )
                app.commit()

    record_b, code_b = dbopt_migrate("0003", on_lint=while_b_is_planned)
    (record_a, code_a) = outcome_a[0]
    # one of the two ran the migrations; the other was turned away by the lock
    assert sorted([record_a["outcome"], record_b["outcome"]]) in (
        ["applied", "locked"],
        ["applied", "nothing to do"],
    ), (record_a, record_b)
    assert record_b["outcome"] == "applied"
    assert record_a["outcome"] == "locked"
    # B held the lock from before its plan: A never got in between
    assert code_a == 3
    assert code_b == 0
    # and rows written after either run keep their data
    with other_session() as app:
        app.execute("INSERT INTO migrate_attack_app_account (balance, note) VALUES (3, 'keep-3')")
        app.commit()
    assert notes() == ["keep-3"]


def test_rows_written_between_plan_and_apply_survive() -> None:
    """The unfixed run's exact loss: A applied and rows were written before B's steps."""
    migrate_to("0001")

    def while_b_is_planned(report: object) -> None:
        # a plain migrate (no advisory lock) applies 0002 and 0003 under B's feet
        thread, _ = in_thread(lambda: call_command("migrate", APP, "0003", verbosity=0))
        thread.join(120)
        with other_session() as app:
            app.execute(
                "INSERT INTO migrate_attack_app_account (balance, note) VALUES (1, 'keep')"
            )
            app.commit()

    record, code = dbopt_migrate("0003", on_lint=while_b_is_planned)
    assert notes() == ["keep"]  # the column was never dropped
    assert code == 0, record
    assert [s["outcome"] for s in record["migrations"]] == ["skipped", "skipped"]
    assert all("already applied" in " ".join(s["notes"]) for s in record["migrations"])

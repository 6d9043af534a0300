"""Findings weighted by live table size on the real PostgreSQL.

The test app's ``Item`` table is created for real in the test database (inside the
test's transaction) with rows, analysed so ``pg_class.reltuples`` knows them.
"""

from __future__ import annotations

import pytest
from django.db import connection, migrations, models
from django.db.migrations.state import ModelState, ProjectState
from django.test import override_settings

from django_dbopt.migration_lint.rendering import offline_connection, render
from tests.migrations_lint_fixtures import migrations_app, run, run_json  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("migrations_app")]

ROWS = 5000


@pytest.fixture
def item_table(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE migrations_app_item (id bigserial PRIMARY KEY, name varchar(50), "
            "code varchar(10) NOT NULL, qty integer NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO migrations_app_item (name, code, qty) "
            "SELECT 'n' || i, 'c' || i, i FROM generate_series(1, %s) AS i",
            [ROWS],
        )
        cursor.execute("ANALYZE migrations_app_item")


@pytest.mark.usefixtures("item_table")
def test_finding_on_a_big_table_is_raised_one_severity() -> None:
    with override_settings(DBOPT={"MIGRATIONS": {"BIG_TABLE_ROWS": ROWS // 2}}):
        report, code = run_json("migrations_app", "0002")
    assert report["sizes"] is True
    (finding,) = report["findings"]
    assert (finding["rule"], finding["base_severity"], finding["severity"]) == (
        "DBM001",
        "warning",
        "error",
    )
    assert finding["table_rows"] == ROWS
    assert finding["table_bytes"] > 0
    assert "The table is big (~5,000 rows" in finding["message"]
    assert code == 1


@pytest.mark.usefixtures("item_table")
def test_bytes_threshold_also_counts() -> None:
    with override_settings(DBOPT={"MIGRATIONS": {"BIG_TABLE_BYTES": 8192}}):
        report, _ = run_json("migrations_app", "0002")
    assert report["findings"][0]["severity"] == "error"


@pytest.mark.usefixtures("item_table")
def test_small_table_keeps_its_severity_but_shows_its_size() -> None:
    report, code = run_json("migrations_app", "0002")  # default: 1,000,000 rows / 1 GiB
    (finding,) = report["findings"]
    assert finding["severity"] == "warning"
    assert finding["table_rows"] == ROWS
    assert code == 0


@pytest.mark.usefixtures("item_table")
def test_size_does_not_weigh_rules_about_running_code() -> None:
    with override_settings(DBOPT={"MIGRATIONS": {"BIG_TABLE_ROWS": 1}}):
        report, _ = run_json("migrations_app", "0005", "--fail-on", "never")
    (finding,) = report["findings"]
    assert (finding["rule"], finding["severity"], finding["table_rows"]) == (
        "DBM009",
        "error",
        None,
    )


@pytest.mark.usefixtures("item_table")
def test_offline_never_reads_sizes() -> None:
    with override_settings(DBOPT={"MIGRATIONS": {"BIG_TABLE_ROWS": 1}}):
        report, _ = run_json("migrations_app", "0002", "--offline")
    assert report["sizes"] is False
    assert report["sizes_note"] == "--offline: linted without table sizes"
    assert report["findings"][0]["severity"] == "warning"


@pytest.mark.django_db
def test_table_missing_from_the_database_has_no_size() -> None:
    with override_settings(DBOPT={"MIGRATIONS": {"BIG_TABLE_ROWS": 1}}):
        report, _ = run_json("migrations_app", "0002")
    assert report["sizes"] is True
    (finding,) = report["findings"]
    assert (finding["severity"], finding["table_rows"]) == ("warning", None)


@pytest.mark.usefixtures("item_table")
def test_text_output_says_sizes_are_live() -> None:
    out, _ = run("migrations_app", "0002")
    assert "live table sizes" in out


@pytest.mark.django_db
def test_offline_rendering_matches_what_django_sends_to_the_live_server() -> None:
    """The SQL the linter reads is the SQL Django's schema editor emits on the real
    connection (``sqlmigrate``), for operations that need no introspection."""
    state = ProjectState()
    state.add_model(
        ModelState(
            "shop",
            "Order",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("note", models.CharField(max_length=50, null=True)),
                ("qty", models.IntegerField(default=0)),
            ],
        )
    )
    operations = [
        migrations.AddIndex("order", models.Index(fields=["note"], name="o_note")),
        migrations.AddField("order", "status", models.CharField(max_length=5, default="new")),
        migrations.AlterField("order", "qty", models.BigIntegerField(default=0)),
        migrations.AddConstraint("order", models.UniqueConstraint(fields=["qty"], name="u")),
        migrations.RenameField("order", "note", "comment"),
    ]
    offline = offline_connection("default", connection.pg_version)
    for operation in operations:
        before = state.clone()
        operation.state_forwards("shop", state)
        with connection.schema_editor(collect_sql=True, atomic=False) as editor:
            operation.database_forwards("shop", editor, before, state)
        assert render(offline, "shop", operation, before, state) == editor.collected_sql

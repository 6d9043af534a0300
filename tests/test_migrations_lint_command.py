"""``manage.py dbopt_lint_migrations`` on the test app's migrations: selection, output,
exit codes and ignores. Offline or on whichever database the run has (SQLite or PostgreSQL).
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.migrations_lint_fixtures import migrations_app, run, run_json  # noqa: F401

pytestmark = pytest.mark.usefixtures("migrations_app")


def test_named_migration_reports_its_finding_with_the_safe_alternative() -> None:
    out, code = run("migrations_app", "0002", "--offline")
    assert code == 0  # a warning: below the default --fail-on error
    assert "WARNING DBM001 index built without CONCURRENTLY" in out
    assert "migrations_app.0002_index_name, operation 1 (Create index item_name_idx" in out
    assert 'CREATE INDEX "item_name_idx" on "migrations_app_item" without CONCURRENTLY' in out
    assert "safe alternative: Build it with django.contrib.postgres.operations." in out
    assert "--offline: linted without table sizes" in out


def test_fail_on_decides_the_exit_status() -> None:
    assert run("migrations_app", "0002", "--offline", "--fail-on", "warning")[1] == 1
    assert run("migrations_app", "0002", "--offline", "--fail-on", "error")[1] == 0
    assert run("migrations_app", "0005", "--offline")[1] == 1  # DBM009 is an error
    assert run("migrations_app", "0005", "--offline", "--fail-on", "never")[1] == 0
    with override_settings(DBOPT={"MIGRATIONS": {"FAIL_ON": "warning"}}):
        assert run("migrations_app", "0002", "--offline")[1] == 1


def test_safe_migration_is_clean() -> None:
    out, code = run("migrations_app", "0003", "--offline", "--fail-on", "info")
    assert code == 0
    assert "0 finding(s)" in out


def test_all_lints_every_migration_of_every_app_but_djangos_own() -> None:
    report, code = run_json("--all", "--offline")
    assert code == 1
    assert report["selection"] == "all"
    assert "migrations_app.0001_initial" in report["migrations"]
    assert "django_dbopt.0001_initial" in report["migrations"]
    assert not [m for m in report["migrations"] if m.startswith(("auth.", "admin."))]
    mine = [f for f in report["findings"] if f["app_label"] == "migrations_app"]
    assert [(f["migration"], f["rule"], f["severity"]) for f in mine] == [
        ("0002_index_name", "DBM001", "warning"),
        ("0005_rename_code", "DBM009", "error"),
    ]
    assert report["failed"] is True


def test_json_schema() -> None:
    report, code = run_json("migrations_app", "0002", "--offline")
    assert code == 0
    assert set(report) == {
        "version", "database", "selection", "sizes", "sizes_note", "migrations", "counts",
        "fail_on", "failed", "findings", "ignored", "notes",
    }  # fmt: skip
    assert report["version"] == 1
    assert report["sizes"] is False
    assert report["counts"] == {"info": 0, "warning": 1, "error": 0}
    (finding,) = report["findings"]
    assert finding == {
        "rule": "DBM001",
        "title": "index built without CONCURRENTLY",
        "severity": "warning",
        "base_severity": "warning",
        "app_label": "migrations_app",
        "migration": "0002_index_name",
        "operation_index": 1,
        "operation": "Create index item_name_idx on field(s) name of model item",
        "table": "migrations_app_item",
        "table_rows": None,
        "table_bytes": None,
        "message": finding["message"],
        "safe_alternative": finding["safe_alternative"],
        "sql": ['CREATE INDEX "item_name_idx" ON "migrations_app_item" ("name")'],
        "ignored_by": None,
    }


def test_migration_dbopt_ignore_attribute() -> None:
    report, code = run_json("migrations_app", "0004", "--offline", "--fail-on", "info")
    assert code == 0
    assert report["findings"] == []
    assert [(f["rule"], f["ignored_by"]) for f in report["ignored"]] == [("DBM010", "migration")]


def test_settings_ignore_list() -> None:
    ignore = {"MIGRATIONS": {"IGNORE": ["migrations_app.0005_rename_code:DBM009"]}}
    with override_settings(DBOPT=ignore):
        report, code = run_json("migrations_app", "--offline")
    assert code == 0
    assert [f["rule"] for f in report["findings"]] == ["DBM001"]
    assert [(f["rule"], f["ignored_by"]) for f in report["ignored"]] == [
        ("DBM010", "migration"),
        ("DBM009", "settings"),
    ]
    with override_settings(DBOPT={"MIGRATIONS": {"IGNORE": ["migrations_app.0002_index_name:*"]}}):
        report, _ = run_json("migrations_app", "0002", "--offline")
    assert report["findings"] == []


def test_verbose_text_lists_migrations_sql_and_ignored() -> None:
    out, _ = run("migrations_app", "--offline", "-v", "2", "--fail-on", "never")
    assert "  migrations_app.0003_index_code_concurrently" in out
    assert 'sql: CREATE INDEX "item_name_idx"' in out
    assert "ignored (migration): DBM010 migrations_app.0004_remove_tag_label operation 1" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "--offline"), "No installed app with label 'nope'."),
        (("migrations_app", "9999", "--offline"), "Cannot find a migration matching '9999'"),
        (("migrations_app", "000", "--offline"), "More than one migration matches '000'"),
        (("--offline",), "name an app (app_label [migration_name]) or pass --all"),
        (("migrations_app", "--all"), "Give either app_label or --all."),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    out, code = run(*args)
    assert code == 2
    assert message in out


@pytest.mark.django_db
def test_default_lints_the_unapplied_plan_where_new_tables_are_safe() -> None:
    report, code = run_json("--fail-on", "info")
    assert report["selection"] == "unapplied"
    assert [m for m in report["migrations"] if m.startswith("migrations_app.")] == [
        f"migrations_app.{name}"
        for name in (
            "0001_initial",
            "0002_index_name",
            "0003_index_code_concurrently",
            "0004_remove_tag_label",
            "0005_rename_code",
        )
    ]
    # every table they touch is created by 0001 in the same plan: nothing to report
    assert report["findings"] == []
    assert report["ignored"] == []
    assert code == 0


@pytest.mark.django_db
def test_djangos_own_apps_are_linted_when_named() -> None:
    report, _ = run_json("auth", "--offline", "--fail-on", "never")
    assert "auth.0001_initial" in report["migrations"]

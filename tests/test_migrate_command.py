"""``manage.py dbopt_migrate`` options that work on any database (the SQLite run too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from tests.migrations_lint_fixtures import migrations_app  # noqa: F401


@pytest.fixture
def app_db(transactional_db: None, migrations_app: None) -> Iterator[None]:  # noqa: F811
    yield
    call_command("migrate", "migrations_app", "zero", verbosity=0)


def run(*args: str) -> tuple[str, int]:
    out = StringIO()
    try:
        call_command("dbopt_migrate", *args, stdout=out)
    except CommandError as e:
        return out.getvalue() + f"\nCommandError: {e}", e.returncode
    return out.getvalue(), 0


def applied() -> set[str]:
    return {
        name
        for app, name in MigrationRecorder(connection).applied_migrations()
        if app == "migrations_app"
    }


@pytest.mark.usefixtures("app_db")
def test_plan_shows_the_plan_and_the_lint_and_applies_nothing() -> None:
    out, code = run("migrations_app", "--plan")
    assert code == 0
    assert "Lint of the plan: 0 error(s), 0 warning(s)" in out
    assert "migrations_app.0005_rename_code: pending" in out
    assert "dbopt_migrate: planned." in out
    assert applied() == set()


@pytest.mark.usefixtures("app_db")
def test_applies_like_migrate() -> None:
    out, code = run("migrations_app", "0002")
    assert code == 0
    assert "Applying migrations_app.0002_index_name... OK" in out
    assert "migrations_app.0002_index_name: applied" in out
    assert applied() == {"0001_initial", "0002_index_name"}
    if connection.vendor == "sqlite":
        assert "note: 'default' is sqlite: no advisory lock, timeouts or retries" in out
    out, code = run("migrations_app", "0002", "--format", "json")
    assert json.loads(out)["outcome"] == "nothing to do"


@pytest.mark.usefixtures("app_db")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope",), "App 'nope' does not have migrations (or is not installed)."),
        (("migrations_app", "99"), "No single migration matches '99' in app 'migrations_app'."),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    out, code = run(*args)
    assert code == 2
    assert message in out


@pytest.mark.usefixtures("app_db")
def test_unapplying_is_left_to_migrate() -> None:
    call_command("migrate", "migrations_app", "0002", verbosity=0)
    out, code = run("migrations_app", "0001")
    assert code == 2
    assert "dbopt_migrate only applies migrations" in out

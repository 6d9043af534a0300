"""``dbopt_migrate --backup --rollback-on-failure``: a run whose last migration fails gets
its tables' rows back from the backup taken before it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from django_dbopt.backup.catalog import list_backups
from tests.backup_fixtures import backup_settings

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
APP = "backup_migrate_app"
TABLE = "backup_migrate_app_account"


@pytest.fixture
def app(backup_dir: Path) -> Iterator[None]:
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests." + APP]):
        call_command("migrate", APP, "0001", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {TABLE} (name) VALUES ('ada'), ('bob'), (NULL)")
        yield
        call_command("migrate", APP, "zero", verbosity=0)


def dbopt_migrate(*args: str) -> tuple[dict[str, Any], int]:
    out = StringIO()
    try:
        call_command("dbopt_migrate", APP, *args, "--force", "--format", "json", stdout=out)
        code = 0
    except CommandError as e:
        code = e.returncode
    return json.loads(out.getvalue()), code


def columns() -> list[str]:
    with connection.cursor() as cursor:
        desc = connection.introspection.get_table_description(cursor, TABLE)
    return [c.name for c in desc]


@pytest.mark.usefixtures("app")
def test_failed_run_is_rolled_back_from_its_backup() -> None:
    record, code = dbopt_migrate("--backup", "--rollback-on-failure")
    assert code == 1
    assert record["outcome"] == "failed"
    assert [s["outcome"] for s in record["migrations"]] == ["applied", "applied", "failed"]
    backup_id = record["backup"]["backup_id"]
    assert record["backup"]["tables"] == [f"public.{TABLE}"]
    (entry,) = list_backups()
    assert entry.backup_id == backup_id
    assert entry.manifest.partial
    assert entry.manifest.reason == "migrate"
    assert record["rollback"]["done"] is True, record["rollback"]
    assert record["rollback"]["unapplied"] == [f"{APP}.0002_note", f"{APP}.0003_drop_name"]
    assert columns() == ["id", "name"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name FROM {TABLE} ORDER BY id")
        assert cursor.fetchall() == [("ada",), ("bob",), (None,)]
        cursor.execute("SELECT name FROM django_migrations WHERE app = %s", [APP])
        assert cursor.fetchall() == [("0001_initial",)]


@pytest.mark.usefixtures("app")
def test_without_rollback_the_backup_is_only_named(settings: Any, backup_dir: Path) -> None:
    settings.DBOPT = backup_settings(backup_dir, BEFORE_MIGRATE=True)  # the default now
    record, code = dbopt_migrate()
    assert code == 1
    assert record["backup"]["backup_id"]
    assert record["rollback"] is None
    assert "name" not in columns()  # 0003 stays applied: nothing was undone


@pytest.mark.usefixtures("app")
def test_irreversible_run_is_not_rolled_back() -> None:
    from django.db.migrations.operations import RemoveField

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RemoveField, "reversible", False)
        record, code = dbopt_migrate("--backup", "--rollback-on-failure")
    assert code == 1
    assert record["rollback"]["done"] is False
    assert "not reversible" in record["rollback"]["error"]
    assert any("rollback not done" in n for n in record["notes"])

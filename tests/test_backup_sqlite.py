"""Logical backups of SQLite (the embedded default) through its backup API."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from django_dbopt.backup.catalog import list_backups
from django_dbopt.backup.create import create_backup
from django_dbopt.backup.errors import RestoreRefused
from django_dbopt.backup.restore import restore_backup
from django_dbopt.backup.verify import verify_backup
from example_project.demo.models import User
from tests.backup_fixtures import OTHER_KEY, backup_settings, data_file, flip_byte
from tests.conftest import on_postgres

pytestmark = [
    pytest.mark.skipif(on_postgres(), reason="the SQLite run's default alias"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def seeded(backup_dir: Path) -> Path:
    User.objects.bulk_create(User(email=f"s{i}@example.com") for i in range(30))
    return backup_dir


def test_round_trip_into_a_new_file(seeded: Path, tmp_path: Path) -> None:
    manifest = create_backup("default")
    assert manifest.engine == "sqlite"
    assert manifest.row_counts()["users"] == 30
    (entry,) = list_backups()
    assert entry.verified
    verification = verify_backup(manifest.backup_id, restore_test=True)
    assert verification.ok
    assert verification.restore_test is not None
    assert verification.restore_test["ok"]
    target = tmp_path / "restored.sqlite3"
    result = restore_backup(manifest.backup_id, "default", target=str(target))
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT count(*) FROM users").fetchone() == (30,)
    db.close()
    assert result.rows == sum(manifest.row_counts().values())


def test_replace_puts_the_rows_back(seeded: Path) -> None:
    manifest = create_backup("default", verify=False)
    User.objects.all().delete()
    restore_backup(manifest.backup_id, "default", replace=True)
    assert User.objects.count() == 30


def test_in_memory_database_needs_a_target(seeded: Path) -> None:
    manifest = create_backup("default", verify=False)
    with pytest.raises(RestoreRefused, match="target"):
        restore_backup(manifest.backup_id, "default")


def test_corrupt_and_wrong_key_refused(seeded: Path, settings: Any, tmp_path: Path) -> None:
    manifest = create_backup("default", verify=False)
    target = tmp_path / "never.sqlite3"
    User.objects.create(email="after@example.com")
    settings.DBOPT = backup_settings(seeded, ENCRYPTION_KEYS={"k1": OTHER_KEY})
    assert not verify_backup(manifest.backup_id).ok
    with pytest.raises(RestoreRefused, match="does not open"):
        restore_backup(manifest.backup_id, "default", replace=True)
    settings.DBOPT = backup_settings(seeded)
    flip_byte(data_file(seeded, manifest.backup_id), 20)
    assert not verify_backup(manifest.backup_id).ok
    with pytest.raises(RestoreRefused, match="fails authentication"):
        restore_backup(manifest.backup_id, "default", target=str(target))
    assert not target.exists()
    assert User.objects.count() == 31  # the live database untouched

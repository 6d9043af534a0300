"""A PostgreSQL dump never restores into SQLite (a real dump, a real SQLite project)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from django_dbopt.backup.create import create_backup
from tests.backup_fixtures import KEY

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SETTINGS = """
from tests.settings_sqlite import *  # noqa
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db!r}}}}}
DBOPT = {{"BACKUP": {{"LOCATION": {location!r}, "ENCRYPTION_KEYS": {{"k1": {key!r}}}}}}}
"""


def manage(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": f"{folder}{os.pathsep}{root}",
        "DJANGO_SETTINGS_MODULE": "sqlite_target_settings",
    }
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        capture_output=True, text=True, env=env, cwd=folder, timeout=120, check=False,
    )  # fmt: skip


def test_postgresql_dump_refused_by_a_sqlite_project(backup_dir: Path, tmp_path: Path) -> None:
    manifest = create_backup("default", verify=False)
    project = tmp_path / "project"
    project.mkdir()
    db = project / "live.sqlite3"
    (project / "sqlite_target_settings.py").write_text(
        SETTINGS.format(db=str(db), location=str(backup_dir), key=KEY)
    )
    assert manage(project, "migrate", "--verbosity", "0").returncode == 0
    before = db.read_bytes()

    listed = manage(project, "dbopt_backups", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert [e["backup_id"] for e in json.loads(listed.stdout)] == [manifest.backup_id]

    refused = manage(project, "dbopt_restore", manifest.backup_id, "--replace", "--no-input")
    assert refused.returncode == 4, refused.stderr
    assert "is a postgresql dump; 'default' is sqlite" in refused.stderr
    assert db.read_bytes() == before

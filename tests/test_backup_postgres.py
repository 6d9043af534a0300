"""Logical backups on the suite's PostgreSQL: round trip, and every corruption refused."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from django_dbopt.backup import postgres
from django_dbopt.backup.catalog import list_backups
from django_dbopt.backup.create import create_backup
from django_dbopt.backup.errors import RestoreRefused
from django_dbopt.backup.restore import restore_backup
from django_dbopt.backup.verify import verify_backup
from example_project.demo.models import AuditLog, Project, Task, User
from tests.backup_fixtures import OTHER_KEY, backup_settings, data_file, flip_byte

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def seed(n: int = 50) -> None:
    users = User.objects.bulk_create(
        User(email=f"u{i}@example.com", full_name=f"User {i}") for i in range(n)
    )
    project = Project.objects.create(name="p", owner=users[0])
    Task.objects.bulk_create(
        Task(project=project, title=f"t{i}", assigned_to=users[i % n]) for i in range(3 * n)
    )
    AuditLog.objects.bulk_create(
        AuditLog(user=users[i % n], action="login", result="success") for i in range(2 * n)
    )


def live_counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "tasks": Task.objects.count(),
        "audit": AuditLog.objects.count(),
    }


def databases() -> set[str]:
    with postgres.connect("default") as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


@pytest.fixture
def seeded(backup_dir: Path) -> Path:
    seed()
    return backup_dir


def test_backup_verify_restore_round_trip(seeded: Path) -> None:
    manifest = create_backup("default")
    assert manifest.engine == "postgresql"
    assert manifest.server_version_num
    counts = manifest.row_counts()
    assert counts["public.users"] == 50
    assert counts["public.tasks"] == 150
    assert "django_dbopt.0001_initial" in manifest.migrations
    (entry,) = list_backups("default")
    assert entry.verified
    assert entry.verification is not None
    assert entry.verification.archive_entries
    assert entry.verification.archive_entries > 10

    result = restore_backup(manifest.backup_id, "default")
    try:
        assert result.target != connection.settings_dict["NAME"]
        restored = postgres.counts_in("default", result.target, list(counts))
        assert restored == counts
        assert result.rows == sum(counts.values())
    finally:
        postgres.drop_database("default", result.target)


def test_restore_test_compares_row_counts(seeded: Path) -> None:
    manifest = create_backup("default", verify=False)
    verification = verify_backup(manifest.backup_id, restore_test=True)
    assert verification.ok, verification.error
    assert verification.restore_test is not None
    assert verification.restore_test["ok"]
    assert verification.restore_test["tables"] == len(manifest.tables)
    assert not any(d.startswith("dbopt_verify_") for d in databases())


def test_partial_backup_of_some_tables(seeded: Path) -> None:
    manifest = create_backup("default", tables=["public.tasks"], verify=False)
    assert manifest.partial
    assert manifest.row_counts() == {"public.tasks": 150}
    with pytest.raises(RestoreRefused, match="only some tables"):
        restore_backup(manifest.backup_id, "default", replace=True)


def _refused_everywhere(backup_id: str, match: str) -> None:
    """verify fails, restore is refused, nothing new exists and the live data is intact."""
    before_dbs, before_rows = databases(), live_counts()
    verification = verify_backup(backup_id)
    assert not verification.ok
    assert verification.error is not None
    assert match in verification.error
    with pytest.raises(RestoreRefused, match=match):
        restore_backup(backup_id, "default")
    assert databases() == before_dbs
    assert live_counts() == before_rows


def test_flipped_byte_is_refused(seeded: Path) -> None:
    manifest = create_backup("default", verify=False)
    flip_byte(data_file(seeded, manifest.backup_id))
    _refused_everywhere(manifest.backup_id, "fails authentication")


def test_truncated_file_is_refused(seeded: Path) -> None:
    manifest = create_backup("default", verify=False)
    path = data_file(seeded, manifest.backup_id)
    path.write_bytes(path.read_bytes()[: manifest.stored_bytes // 2])
    _refused_everywhere(manifest.backup_id, "truncated")


def test_wrong_key_is_refused(seeded: Path, settings: Any) -> None:
    manifest = create_backup("default", verify=False)
    settings.DBOPT = backup_settings(seeded, ENCRYPTION_KEYS={"k1": OTHER_KEY})
    _refused_everywhere(manifest.backup_id, "does not open this backup")


def test_missing_manifest_means_no_backup(seeded: Path) -> None:
    manifest = create_backup("default", verify=False)
    (seeded / manifest.backup_id / "manifest.json").unlink()
    assert list_backups("default") == []
    with pytest.raises(CommandError, match=r"no backup .* with a manifest"):
        call_command("dbopt_backups", "verify", manifest.backup_id, stdout=StringIO())
    before = databases()
    with pytest.raises(CommandError, match="with a manifest"):
        call_command("dbopt_restore", manifest.backup_id, stdout=StringIO())
    assert databases() == before


def test_newer_server_major_is_refused(seeded: Path) -> None:
    manifest = create_backup("default", verify=False)
    path = seeded / manifest.backup_id / "manifest.json"
    data = json.loads(path.read_text())
    data["server_version_num"] += 10000
    path.write_text(json.dumps(data))
    with pytest.raises(RestoreRefused, match="older major version"):
        restore_backup(manifest.backup_id, "default")


def test_commands_json_and_replace(seeded: Path) -> None:
    out = StringIO()
    call_command("dbopt_backup", "--format", "json", stdout=out)
    made = json.loads(out.getvalue())
    backup_id = made["manifest"]["backup_id"]
    assert made["verification"]["ok"] is True
    out = StringIO()
    call_command("dbopt_backups", "list", "--format", "json", stdout=out)
    assert [e["backup_id"] for e in json.loads(out.getvalue())] == [backup_id]
    # the live data changes, then the backup replaces it (renamed aside, not dropped)
    User.objects.filter(email__startswith="u1").delete()
    out = StringIO()
    call_command(
        "dbopt_restore", backup_id, "--replace", "--no-input", "--format", "json", stdout=out
    )
    result = json.loads(out.getvalue())
    connection.close()
    try:
        assert result["replaced"] is True
        assert User.objects.count() == 50
    finally:
        postgres.drop_database("default", result["previous"])


def test_row_counts_are_those_of_the_dump_despite_concurrent_writes(
    seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = postgres.count_rows

    def count_after_a_concurrent_insert(conn: Any, tables: Any) -> Any:
        with postgres.connect("default") as other:  # commits while the dump runs
            other.execute(
                "INSERT INTO users (email, password, full_name, is_active, is_staff, "
                "is_superuser, failed_login_count, date_joined) VALUES "
                "('late@example.com', '', '', true, false, false, 0, now())"
            )
        return real(conn, tables)

    monkeypatch.setattr(postgres, "count_rows", count_after_a_concurrent_insert)
    manifest = create_backup("default", verify=False)
    monkeypatch.setattr(postgres, "count_rows", real)
    assert manifest.row_counts()["public.users"] == 50  # the dump's snapshot, not 51
    assert User.objects.count() == 51
    verification = verify_backup(manifest.backup_id, restore_test=True)
    assert verification.ok, verification.error

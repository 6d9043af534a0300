"""Scheduled jobs, alerts, signals, health, metrics and the admin page (SQLite run and
PostgreSQL run alike: they use whichever default database the run has)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from django_dbopt import signals
from django_dbopt.backup import freshness, jobs
from django_dbopt.backup.catalog import list_backups
from django_dbopt.backup.errors import BackupError
from django_dbopt.backup.storage import VERIFICATION
from example_project.demo.models import User
from tests.backup_fixtures import backup_settings, data_file, flip_byte

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")  # readiness probes all
ADMIN = "/admin/django_dbopt/backupspage/"


class Received:
    def __init__(self, signal: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        self.signal = signal

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        self.calls.append(kwargs)

    def __enter__(self) -> Received:
        self.signal.connect(self, weak=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.signal.disconnect(self)


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    freshness.clear()
    yield
    freshness.clear()


def test_backup_job_signals_and_is_listed_verified(backup_dir: Path) -> None:
    User.objects.create(email="j@example.com")
    with Received(signals.backup_finished) as done, Received(signals.backup_verified) as ok:
        backup_id = jobs.backup("default")
    assert done.calls[0]["ok"] is True
    assert done.calls[0]["backup_id"] == backup_id
    assert ok.calls[0]["ok"] is True
    (entry,) = list_backups()
    assert entry.verified
    assert entry.manifest.reason == "schedule"
    assert jobs.check() == []


def test_failed_backup_signals_and_raises(settings: Any, tmp_path: Path) -> None:
    settings.DBOPT = {"BACKUP": {"LOCATION": str(tmp_path)}}  # no key
    with Received(signals.backup_finished) as done, pytest.raises(BackupError, match="key"):
        jobs.backup("default")
    assert done.calls[0]["ok"] is False
    assert "encryption key" in done.calls[0]["error"]


def test_alerts_when_no_verified_backup_or_too_old(backup_dir: Path, settings: Any) -> None:
    with Received(signals.backup_alert) as alert:
        found = jobs.check()
    assert [a["kind"] for a in found] == ["no_verified_backup"] * len(found)
    assert "default" in [a["database"] for a in alert.calls]
    jobs.backup("default")
    assert "default" not in [a["database"] for a in jobs.check()]
    settings.DBOPT = backup_settings(backup_dir, MAX_VERIFIED_AGE_H=0.0001)  # 0.36 s
    freshness.clear()
    import time

    deadline = time.monotonic() + 10
    while not [a for a in jobs.check() if a["database"] == "default"]:
        assert time.monotonic() < deadline
    (alert,) = [a for a in jobs.check() if a["database"] == "default"]
    assert alert["kind"] == "backup_too_old"
    assert alert["age_s"] > alert["limit_s"]


def test_verify_job_records_failure(backup_dir: Path) -> None:
    backup_id = jobs.backup("default")
    flip_byte(data_file(backup_dir, backup_id), 30)
    with Received(signals.backup_verified) as verified:
        assert jobs.verify_latest() == {backup_id: False}
    assert verified.calls[0]["ok"] is False
    record = json.loads((backup_dir / backup_id / VERIFICATION).read_text())
    assert record["ok"] is False
    assert "fails authentication" in record["error"]
    (entry,) = list_backups()
    assert entry.state == "FAILED verification"


def test_prune_job_keeps_the_policy(backup_dir: Path, settings: Any) -> None:
    settings.DBOPT = backup_settings(
        backup_dir, KEEP_LAST=1, KEEP_DAILY=0, KEEP_WEEKLY=0, KEEP_MONTHLY=0
    )
    first = jobs.backup("default")
    second = jobs.backup("default")
    assert jobs.prune() == [first]
    assert [e.backup_id for e in list_backups()] == [second]


def test_health_reports_backup_age_and_can_degrade(backup_dir: Path, settings: Any) -> None:
    body = Client().get("/dbopt/health/ready/").json()
    assert "default" in body["backups"]["stale"]
    status_before = body["status"]
    settings.DBOPT = backup_settings(backup_dir, READINESS_DEGRADE=True)
    freshness.clear()
    assert Client().get("/dbopt/health/ready/").json()["status"] == "degraded"
    jobs.backup("default")
    body = Client().get("/dbopt/health/ready/").json()
    (row,) = [r for r in body["backups"]["databases"] if r["database"] == "default"]
    assert 0 <= row["last_verified_age_s"] < 600
    assert "default" not in body["backups"]["stale"]
    assert body["status"] == status_before


def test_no_backup_section_in_health_when_not_configured() -> None:
    assert "backups" not in Client().get("/dbopt/health/ready/").json()


def test_prometheus_families(backup_dir: Path) -> None:
    pytest.importorskip("prometheus_client")
    text = Client().get("/dbopt/metrics/").content.decode()
    assert 'dbopt_backup_last_verified_age_seconds{database="default"}' not in text
    jobs.backup("default")
    freshness.clear()
    text = Client().get("/dbopt/metrics/").content.decode()
    assert 'dbopt_backup_last_verified_age_seconds{database="default"}' in text
    assert 'dbopt_backup_last_age_seconds{database="default"}' in text


def test_admin_page_lists_backups_with_their_state(backup_dir: Path, admin_client: Client) -> None:
    good = jobs.backup("default")
    bad = jobs.backup("default")
    flip_byte(data_file(backup_dir, bad), 30)
    jobs.verify_latest()
    text = admin_client.get(ADMIN).content.decode()
    assert good in text
    assert bad in text
    assert "FAILED verification" in text
    assert text.count(">verified<") == 1


def test_admin_page_is_staff_only(client: Client, backup_dir: Path) -> None:
    assert client.get(ADMIN).status_code == 302
    User.objects.create_user(email="plain@example.com", password="pw")
    client.login(email="plain@example.com", password="pw")
    assert client.get(ADMIN).status_code == 302


def test_celery_tasks_have_their_documented_names() -> None:
    celery = pytest.importorskip("celery")
    app = celery.Celery("dbopt-backup-tasks", set_as_current=False)
    app.config_from_object({"broker_url": "memory://"})
    import django_dbopt.tasks  # noqa: F401

    app.finalize()
    names = {
        f"django_dbopt.backup.{n}"
        for n in ("backup_database", "verify_backups", "prune_backups", "check_backups",
                  "physical_backup")
    }  # fmt: skip
    assert names <= set(app.tasks)


def test_storage_os_error_is_a_backup_failure(settings: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings.DBOPT = backup_settings(blocker)
    with Received(signals.backup_finished) as done, pytest.raises(BackupError):
        jobs.backup("default")
    assert done.calls[0]["ok"] is False


def test_prune_dry_run_and_restore_latest_commands(
    backup_dir: Path, settings: Any, tmp_path: Path
) -> None:
    from io import StringIO

    from django.core.management import call_command

    settings.DBOPT = backup_settings(
        backup_dir, KEEP_LAST=1, KEEP_DAILY=0, KEEP_WEEKLY=0, KEEP_MONTHLY=0
    )
    first, second = jobs.backup("default"), jobs.backup("default")
    out = StringIO()
    call_command("dbopt_backups", "prune", "--dry-run", "--format", "json", stdout=out)
    assert {d["backup_id"]: d["keep"] for d in json.loads(out.getvalue())} == {
        first: False,
        second: True,
    }
    assert len(list_backups()) == 2  # a dry run deletes nothing
    out = StringIO()
    call_command("dbopt_backups", "prune", stdout=out)
    assert f"deleted  {first}" in out.getvalue()
    assert [e.backup_id for e in list_backups()] == [second]
    target = tmp_path / "latest.sqlite3"
    from django.db import connection

    if connection.vendor == "sqlite":
        out = StringIO()
        call_command("dbopt_restore", "--latest", "--target", str(target), stdout=out)
        assert second in out.getvalue()
        assert target.exists()

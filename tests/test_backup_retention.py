"""Retention on a synthetic calendar: exactly what the policy says goes, and is logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from django_dbopt.backup.manifest import Manifest, Verification
from django_dbopt.backup.retention import Item, Policy, plan, prune
from django_dbopt.backup.storage import MANIFEST, VERIFICATION, LocalStorage

NOW = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)  # a Tuesday
POLICY = Policy(keep_last=3, keep_daily=7, keep_weekly=4, keep_monthly=3)


def calendar() -> list[Item]:
    """A backup at 02:00 every day from March 1st to June 30th, and one more at 14:00."""
    day = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    items = []
    while day <= NOW:
        items.append(Item(f"{day:%m-%d}", day, verified=False))
        day += timedelta(days=1)
    items.append(Item("06-30 14h", datetime(2026, 6, 30, 14, 0, tzinfo=UTC), verified=False))
    return items


# worked out by hand from the calendar (June 30th is a Tuesday):
# last 3: 06-30 14h, 06-30, 06-29; days: 06-30 14h, 06-29 ... 06-24; ISO weeks: 06-30 14h
# (week of Mon 06-29), 06-28 (Sunday), 06-21, 06-14; months: 06-30 14h, 05-31, 04-30
GFS_KEPT = {
    "06-30 14h", "06-30", "06-29", "06-28", "06-27", "06-26", "06-25", "06-24",
    "06-21", "06-14", "05-31", "04-30",
}  # fmt: skip


def kept(items: list[Item], policy: Policy) -> set[str]:
    return {d.item.backup_id for d in plan(items, policy, NOW) if d.keep}


def test_gfs_keeps_exactly_the_worked_out_set() -> None:
    assert NOW.weekday() == 1
    decisions = plan(calendar(), POLICY, NOW)
    assert {d.item.backup_id for d in decisions if d.keep} == GFS_KEPT
    reasons = {d.item.backup_id: d.reasons for d in decisions}
    assert reasons["06-30 14h"] == ["last", "daily", "weekly", "monthly"]
    assert reasons["06-21"] == ["weekly"]
    assert reasons["04-30"] == ["monthly"]
    assert reasons["06-23"] == []


def test_max_age_overrides_the_keep_rules() -> None:
    policy = Policy(3, 7, 4, 3, max_age_days=20)
    assert kept(calendar(), policy) == GFS_KEPT - {"05-31", "04-30"}


def test_the_only_verified_backup_is_never_deleted() -> None:
    items = [Item(i.backup_id, i.started, verified=i.backup_id == "03-15") for i in calendar()]
    decisions = {d.item.backup_id: d for d in plan(items, Policy(3, 7, 4, 3, 20), NOW)}
    assert decisions["03-15"].keep
    assert decisions["03-15"].reasons == ["the only verified backup"]
    # once a kept backup is verified too, the old one may go
    items = [Item(i.backup_id, i.started, i.backup_id in ("03-15", "06-29")) for i in items]
    assert "03-15" not in kept(items, POLICY)


def test_groups_are_pruned_separately() -> None:
    items = [Item(i.backup_id, i.started, False, "a") for i in calendar()]
    items.append(Item("other", datetime(2026, 1, 1, tzinfo=UTC), False, "b"))
    assert kept(items, POLICY) == GFS_KEPT | {"other"}


def _manifest(backup_id: str, started: datetime) -> Manifest:
    return Manifest(
        backup_id, "default", "db", "postgresql", "15.0", 150000, "k1", started.isoformat()
    )


def test_prune_deletes_from_storage_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage = LocalStorage(tmp_path)
    for item in calendar():
        storage.put(item.backup_id, MANIFEST, _manifest(item.backup_id, item.started).to_json())
    storage.put("03-15", VERIFICATION, Verification("03-15", True, NOW.isoformat()).to_json())
    (tmp_path / "unfinished").mkdir()  # no manifest: not a backup, left alone

    dry = prune(dry_run=True, storages=[storage], policy=POLICY, now=NOW)
    assert len(storage.backup_ids()) == len(calendar()) + 1
    assert {d.item.backup_id for d in dry if d.keep} == GFS_KEPT | {"03-15"}

    with caplog.at_level(logging.WARNING, logger="django_dbopt.backup"):
        prune(storages=[storage], policy=POLICY, now=NOW)
    assert set(storage.backup_ids()) == GFS_KEPT | {"03-15", "unfinished"}
    deleted = [r.getMessage() for r in caplog.records if "prune: deleted" in r.getMessage()]
    assert len(deleted) == len(calendar()) - len(GFS_KEPT) - 1
    assert any("backup 06-23 " in m for m in deleted)

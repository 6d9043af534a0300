"""Retention: keep-last N, grandfather-father-son (daily / weekly / monthly), max age.

For each database (and separately for partial backups made before migrations), newest
first:

- the ``KEEP_LAST`` newest backups are kept;
- ``KEEP_DAILY``: the newest backup of each of the last that-many days that have one;
  ``KEEP_WEEKLY`` per ISO week, ``KEEP_MONTHLY`` per calendar month, likewise (UTC);
- a backup older than ``MAX_AGE_DAYS`` goes even if a rule above keeps it;
- the newest verified backup is never deleted when no other verified one is kept.

``plan()`` is pure (tested on a synthetic calendar); ``prune()`` applies it, logging
every deletion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django_dbopt.backup.catalog import Entry, list_backups
from django_dbopt.backup.manifest import utcnow
from django_dbopt.backup.storage import Storage, configured_storages
from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt.backup")


@dataclass(frozen=True)
class Policy:
    keep_last: int = 7
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6
    max_age_days: int | None = None

    @classmethod
    def from_settings(cls) -> Policy:
        c = get_config().backup
        return cls(c.keep_last, c.keep_daily, c.keep_weekly, c.keep_monthly, c.max_age_days)


@dataclass(frozen=True)
class Item:
    backup_id: str
    started: datetime
    verified: bool
    group: Hashable = ""


@dataclass
class Decision:
    item: Item
    keep: bool = False
    reasons: list[str] = field(default_factory=list)


_BUCKETS: list[tuple[str, Callable[[datetime], Hashable]]] = [
    ("daily", lambda t: t.date()),
    ("weekly", lambda t: t.isocalendar()[:2]),
    ("monthly", lambda t: (t.year, t.month)),
]


def _plan_group(items: list[Item], policy: Policy, now: datetime) -> list[Decision]:
    decisions = [Decision(i) for i in sorted(items, key=lambda i: i.started, reverse=True)]
    for decision in decisions[: policy.keep_last]:
        decision.keep = True
        decision.reasons.append("last")
    for rule, bucket_of in _BUCKETS:
        count = getattr(policy, f"keep_{rule}")
        seen: set[Hashable] = set()
        for decision in decisions:
            bucket = bucket_of(decision.item.started)
            if bucket in seen:
                continue
            if len(seen) >= count:
                break
            seen.add(bucket)
            decision.keep = True
            decision.reasons.append(rule)
    if policy.max_age_days is not None:
        limit = now - timedelta(days=policy.max_age_days)
        for decision in decisions:
            if decision.item.started < limit and decision.keep:
                decision.keep = False
                decision.reasons = [f"older than {policy.max_age_days} days"]
    if not any(d.keep and d.item.verified for d in decisions):
        verified = [d for d in decisions if d.item.verified]
        if verified:
            verified[0].keep = True
            verified[0].reasons.append("the only verified backup")
    return decisions


def plan(items: list[Item], policy: Policy, now: datetime | None = None) -> list[Decision]:
    """What to keep and what to delete, newest first within each group."""
    when = now or utcnow()
    groups: dict[Hashable, list[Item]] = {}
    for item in items:
        groups.setdefault(item.group, []).append(item)
    return [d for group in groups.values() for d in _plan_group(group, policy, when)]


def prune(
    database: str | None = None,
    dry_run: bool = False,
    storages: list[Storage] | None = None,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> list[Decision]:
    """Apply the policy to the configured storages (nothing deleted with ``dry_run``)."""
    targets = storages if storages is not None else configured_storages()
    entries: dict[str, Entry] = {e.backup_id: e for e in list_backups(database, targets)}
    items = [
        Item(
            e.backup_id,
            e.manifest.started,
            e.verified,
            (e.manifest.database, e.manifest.partial),
        )
        for e in entries.values()
    ]
    decisions = plan(items, policy or Policy.from_settings(), now)
    for decision in decisions:
        if decision.keep or dry_run:
            continue
        for storage in targets:
            if storage.name in entries[decision.item.backup_id].storages:
                storage.delete(decision.item.backup_id)
        logger.warning(
            "prune: deleted backup %s (started %s; %s)",
            decision.item.backup_id,
            decision.item.started.isoformat(),
            "; ".join(decision.reasons) or "not kept by any rule",
        )
    return decisions

"""The shared store in the database (the default when no Redis ``STORE_CACHE`` is set).

Flushes only insert rows, one per (bucket, fingerprint, view), so processes never
overwrite each other; merging is associative, so readers add up whatever rows a bucket
has. ``maintain()`` deletes rows older than ``RETENTION_DAYS`` (plans, and query shapes
no kept row refers to, included) in batches of ``PRUNE_BATCH`` (at most 20 batches per
call), folds each closed bucket's rows into one, folds buckets older than
``ROLLUP_AFTER_H`` into hour rows and hours older than a week into day rows, so a report
over the whole retention reads a bounded number of rows.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections import defaultdict
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from django_dbopt.conf import get_config
from django_dbopt.monitor.aggregates import Key, Snapshot, Stats
from django_dbopt.monitor.fingerprint import Fingerprint
from django_dbopt.monitor.scope import Finding
from django_dbopt.monitor.store import bucket_start

#: rows folded per maintain() call and step; the next call continues
FOLD_BATCH = 5000
#: hour rows older than this many days are folded into day rows
DAY_ROLLUP_AFTER_D = 7


def unused_shapes(alias: str, expired: datetime.datetime) -> Any:
    """Shapes first seen before ``expired`` that no kept row refers to any more."""
    from django.db.models import Exists, OuterRef

    from django_dbopt.monitor.models import NPlusOneFinding, QueryShape, QueryStat, SlowQuery

    shapes = QueryShape.objects.using(alias).filter(first_seen__lt=expired)
    for model in (QueryStat, SlowQuery, NPlusOneFinding):
        referring = model.objects.using(alias).filter(fingerprint=OuterRef("fingerprint"))
        shapes = shapes.filter(~Exists(referring))
    return shapes


class DatabaseStore:
    def __init__(self) -> None:
        from django_dbopt.monitor.models import QueryStat

        self.alias = router.db_for_write(QueryStat)

    def write(
        self, snapshot: Snapshot, slow: list[dict[str, Any]], findings: list[Finding]
    ) -> None:
        from django_dbopt.monitor.models import (
            FlushLog,
            NPlusOneFinding,
            QueryShape,
            QueryStat,
            SlowQuery,
        )

        config = get_config().monitor
        now = timezone.now()
        start = bucket_start(now, config.bucket_s)
        shapes = {s.fingerprint.id: (s.fingerprint.sql, s.alias) for s in snapshot.stats.values()}
        shapes.update({s["fingerprint"]: (s["sql"], s["alias"]) for s in slow})
        shapes.update({f.fingerprint: (f.sql, f.alias) for f in findings})
        with transaction.atomic(using=self.alias):
            QueryShape.objects.using(self.alias).bulk_create(
                [
                    QueryShape(fingerprint=fp, sql=sql, alias=alias, first_seen=now)
                    for fp, (sql, alias) in shapes.items()
                ],
                ignore_conflicts=True,
            )
            QueryStat.objects.using(self.alias).bulk_create(
                [
                    QueryStat(
                        bucket_start=start,
                        resolution_s=config.bucket_s,
                        fingerprint=fp,
                        view=view[:200],
                        **stats.to_row(),
                    )
                    for (fp, view), stats in snapshot.stats.items()
                ],
                batch_size=500,
            )
            SlowQuery.objects.using(self.alias).bulk_create(
                [
                    SlowQuery(
                        fingerprint=s["fingerprint"],
                        view=s["view"][:200],
                        alias=s["alias"],
                        call_site=s["call_site"][:500],
                        duration_ms=s["duration_ms"],
                        params=s["params"] or "",
                        at=datetime.datetime.fromtimestamp(s["at"], tz=datetime.UTC),
                    )
                    for s in slow
                ]
            )
            for finding in findings:
                self._upsert_finding(NPlusOneFinding, finding, now)
            FlushLog.objects.using(self.alias).create(
                at=now,
                host=socket.gethostname()[:200],
                pid=os.getpid(),
                keys=len(snapshot.stats),
                evictions=snapshot.evictions,
            )

    def _upsert_finding(self, model: Any, finding: Finding, now: datetime.datetime) -> None:
        row, _ = (
            model.objects.using(self.alias)
            .select_for_update()
            .get_or_create(
                fingerprint=finding.fingerprint,
                view=finding.view[:200],
                call_site=finding.call_site[:500],
                defaults={
                    "sql": finding.sql,
                    "alias": finding.alias,
                    "first_seen": now,
                    "last_seen": now,
                },
            )
        )
        row.occurrences += finding.occurrences
        row.max_count = max(row.max_count, finding.count)
        row.total_ms += finding.total_ms
        row.hint = finding.hint or row.hint
        row.stack = finding.stack or row.stack
        row.last_seen = now
        row.save()

    def load(self, since: datetime.datetime | None, view: str | None = None) -> dict[Key, Stats]:
        from django_dbopt.monitor.models import QueryShape, QueryStat

        rows = QueryStat.objects.using(self.alias).all()
        if since is not None:
            rows = rows.filter(bucket_start__gte=bucket_start(since, 1))
        if view is not None:
            rows = rows.filter(view=view)
        merged: dict[Key, Stats] = {}
        values = list(
            rows.values(
                "fingerprint", "view", "calls", "total_ms", "min_ms", "max_ms", "slow", "histogram"
            ).iterator(chunk_size=2000)
        )
        shapes = {
            s.fingerprint: s
            for s in QueryShape.objects.using(self.alias).filter(
                fingerprint__in={v["fingerprint"] for v in values}
            )
        }
        for row in values:
            shape = shapes.get(row["fingerprint"])
            fp = Fingerprint(row["fingerprint"], shape.sql if shape else "(unknown)")
            stats = Stats.from_row(fp, shape.alias if shape else "default", dict(row))
            key = (row["fingerprint"], row["view"])
            if key in merged:
                merged[key].merge(stats)
            else:
                merged[key] = stats
        return merged

    def maintain(self) -> dict[str, int]:
        """Compact closed buckets, roll old ones up to hours, prune expired rows (bounded)."""
        from django_dbopt.monitor.models import (
            FlushLog,
            NPlusOneFinding,
            PlanCache,
            QueryStat,
            SlowQuery,
        )

        config = get_config().monitor
        now = timezone.now()
        done = {"compacted": 0, "rolled_up": 0, "pruned": 0}
        expired = now - datetime.timedelta(days=config.retention_days)
        for model, field in (
            (QueryStat, "bucket_start"),
            (SlowQuery, "at"),
            (FlushLog, "at"),
            (NPlusOneFinding, "last_seen"),
            (PlanCache, "at"),
        ):
            rows = model.objects.using(self.alias).filter(**{f"{field}__lt": expired})
            done["pruned"] += self._prune(rows, config.prune_batch)
        done["pruned"] += self._prune(unused_shapes(self.alias, expired), config.prune_batch)
        current = bucket_start(now, config.bucket_s)
        rows = QueryStat.objects.using(self.alias)
        done["compacted"] = self._fold(
            rows.filter(bucket_start__lt=current, compacted=False), None, FOLD_BATCH
        )
        old = now - datetime.timedelta(hours=config.rollup_after_h)
        done["rolled_up"] = self._fold(
            rows.filter(bucket_start__lt=old, resolution_s__lt=3600), 3600, FOLD_BATCH
        )
        older = now - datetime.timedelta(days=DAY_ROLLUP_AFTER_D)
        done["rolled_up"] += self._fold(
            rows.filter(bucket_start__lt=older, resolution_s__lt=86400), 86400, FOLD_BATCH
        )
        return done

    def _fold(self, rows: Any, resolution_s: int | None, batch: int) -> int:
        """Merge up to ``batch`` rows per (bucket, fingerprint, view) into one each."""
        from django_dbopt.monitor.models import QueryStat

        with transaction.atomic(using=self.alias):
            picked = list(rows.order_by("pk").select_for_update(skip_locked=True)[:batch])
            groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
            for row in picked:
                res = resolution_s or row.resolution_s
                groups[
                    (bucket_start(row.bucket_start, res), res, row.fingerprint, row.view)
                ].append(row)
            merged = []
            for (start, res, fp, view), members in groups.items():
                stats = Stats(Fingerprint(fp, ""), "")
                for member in members:
                    stats.merge(Stats.from_row(stats.fingerprint, "", member.__dict__))
                merged.append(
                    QueryStat(
                        bucket_start=start,
                        resolution_s=res,
                        fingerprint=fp,
                        view=view,
                        compacted=True,
                        **stats.to_row(),
                    )
                )
            QueryStat.objects.using(self.alias).filter(pk__in=[r.pk for r in picked]).delete()
            QueryStat.objects.using(self.alias).bulk_create(merged, batch_size=500)
        return len(picked)

    def _prune(self, rows: Any, batch: int) -> int:
        pruned = 0
        for _ in range(20):  # at most 20 batches per call; the next flush continues
            ids = list(rows.values_list("pk", flat=True)[:batch])
            if not ids:
                break
            rows.model.objects.using(self.alias).filter(pk__in=ids).delete()
            pruned += len(ids)
        return pruned

    def slow_queries(
        self, since: datetime.datetime | None, view: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        from django_dbopt.monitor.models import SlowQuery

        rows = SlowQuery.objects.using(self.alias).order_by("-duration_ms")
        if since is not None:
            rows = rows.filter(at__gte=since)
        if view is not None:
            rows = rows.filter(view=view)
        fields = ("fingerprint", "view", "alias", "call_site", "duration_ms", "params", "at")
        return [{**r, "at": r["at"].isoformat()} for r in rows.values(*fields)[:limit]]

    def findings(
        self, since: datetime.datetime | None, view: str | None = None
    ) -> list[dict[str, Any]]:
        from django_dbopt.monitor.models import NPlusOneFinding

        rows = NPlusOneFinding.objects.using(self.alias).order_by("-total_ms")
        if since is not None:
            rows = rows.filter(last_seen__gte=since)
        if view is not None:
            rows = rows.filter(view=view)
        fields = (
            "fingerprint",
            "view",
            "call_site",
            "sql",
            "alias",
            "hint",
            "stack",
            "occurrences",
            "max_count",
            "total_ms",
            "first_seen",
            "last_seen",
        )
        return [
            {
                **r,
                "first_seen": r["first_seen"].isoformat(),
                "last_seen": r["last_seen"].isoformat(),
            }
            for r in rows.values(*fields)
        ]

    def shapes(self, fingerprints: Any) -> dict[str, tuple[str, str]]:
        from django_dbopt.monitor.models import QueryShape

        rows = QueryShape.objects.using(self.alias).filter(fingerprint__in=list(fingerprints))
        return {r.fingerprint: (r.sql, r.alias) for r in rows}

    def processes(self, since: datetime.datetime | None) -> dict[str, int]:
        from django.db.models import Count, Sum

        from django_dbopt.monitor.models import FlushLog

        rows = FlushLog.objects.using(self.alias).all()
        if since is not None:
            rows = rows.filter(at__gte=since)
        summary = rows.aggregate(flushes=Count("pk"), evictions=Sum("evictions"))
        distinct = rows.values("host", "pid").distinct().count()
        return {
            "flushes": summary["flushes"] or 0,
            "processes": distinct,
            "evictions": summary["evictions"] or 0,
        }

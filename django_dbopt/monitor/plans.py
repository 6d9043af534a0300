"""EXPLAIN of fingerprints, cached per fingerprint, on demand or over the top ones.

Plans are cached for ``PLAN_TTL_S`` in the ``STORE_CACHE`` Redis cache when configured,
else in the ``PlanCache`` table. ``explain_top`` is what the background job runs (the
``dbopt_report --explain-top`` option and the Celery task in ``monitor.tasks``).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.core.cache import caches
from django.db import DatabaseError
from django.utils import timezone

from django_dbopt.conf import get_config
from django_dbopt.exceptions import NotSupported, UnsafeQuery
from django_dbopt.monitor import plan_findings
from django_dbopt.monitor.explain import explain
from django_dbopt.monitor.scope import suppressed
from django_dbopt.monitor.store import get_store, merge_by
from django_dbopt.sqlkind import statement_kind

logger = logging.getLogger("django_dbopt.monitor")

PLAN_TTL_S = 86400


def _cache_key(fingerprint: str, using: str) -> str:
    return f"dbopt:plan:{using}:{fingerprint}"


def cached_plan(fingerprint: str, using: str) -> dict[str, Any] | None:
    alias = get_config().monitor.store_cache
    if alias:
        value: dict[str, Any] | None = caches[alias].get(_cache_key(fingerprint, using))
        return value
    from django_dbopt.monitor.models import PlanCache

    token = suppressed.set(True)
    try:
        row = PlanCache.objects.filter(fingerprint=fingerprint, alias=using).first()
    finally:
        suppressed.reset(token)
    if row is None or row.at < timezone.now() - datetime.timedelta(seconds=PLAN_TTL_S):
        return None
    return {"plan": row.plan, "findings": row.findings, "at": row.at.isoformat()}


def _store_plan(fingerprint: str, using: str, entry: dict[str, Any]) -> None:
    alias = get_config().monitor.store_cache
    if alias:
        caches[alias].set(_cache_key(fingerprint, using), entry, PLAN_TTL_S)
        return
    from django_dbopt.monitor.models import PlanCache

    token = suppressed.set(True)
    try:
        PlanCache.objects.update_or_create(
            fingerprint=fingerprint,
            defaults={
                "alias": using,
                "plan": entry["plan"],
                "findings": entry["findings"],
                "at": timezone.now(),
            },
        )
    finally:
        suppressed.reset(token)


def plan_for(fingerprint: str, sql: str, using: str, refresh: bool = False) -> dict[str, Any]:
    """The cached generic plan and findings of one fingerprint (EXPLAIN when missing)."""
    if not refresh:
        hit = cached_plan(fingerprint, using)
        if hit is not None:
            return hit
    explained = explain(sql, using=using)
    entry = {
        "plan": explained.plan,
        "findings": plan_findings.findings(explained, using),
        "at": timezone.now().isoformat(),
    }
    _store_plan(fingerprint, using, entry)
    return entry


def explain_top(limit: int = 20, since: datetime.datetime | None = None) -> dict[str, Any]:
    """EXPLAIN the ``limit`` SELECT fingerprints with the most total time."""
    stats = merge_by(get_store().load(since).items(), by_view=False)
    ranked = sorted(stats.values(), key=lambda s: -s.total_ns)
    done: dict[str, Any] = {}
    for item in ranked:
        if len(done) >= limit:
            break
        fp = item.fingerprint
        if statement_kind(fp.sql) != "read":
            continue
        try:
            done[fp.id] = plan_for(fp.id, fp.sql, item.alias)
        except (UnsafeQuery, NotSupported, DatabaseError) as e:
            logger.info("EXPLAIN skipped fingerprint=%s: %s", fp.id, e)
            done[fp.id] = {"error": str(e)}
    return done

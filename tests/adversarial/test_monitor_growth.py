"""Unbounded growth in the monitor (issue 11, item 12, monitor parts): query shapes and
plans never pruned, a Redis shapes hash without expiry, SQL memos bounded by count."""

from __future__ import annotations

import datetime
import gc
import time
import tracemalloc

import pytest
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone

from django_dbopt.monitor.db_store import DatabaseStore
from django_dbopt.monitor.fingerprint import fingerprint
from django_dbopt.sqlkind import statement_kind
from tests.monitor_fixtures import fresh_monitor, monitor_config  # noqa: F401


def test_sql_memos_are_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """IN lists of 256 lengths (~2 MiB of SQL text; the issue saw 4,096 lengths keep
    +43 MiB) through the fingerprint and statement-kind memos, each given a 256 KiB
    budget here so the test stays fast: what they keep stays within the budgets."""
    budget = 256 * 1024
    monkeypatch.setattr(fingerprint, "max_bytes", budget, raising=False)
    monkeypatch.setattr(statement_kind, "max_bytes", budget, raising=False)
    fingerprint.cache_clear()
    statement_kind.cache_clear()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(1, 4097, 16):
            sql = 'SELECT "t"."id" FROM "t" WHERE "t"."id" IN (' + ", ".join(["%s"] * n) + ")"
            assert fingerprint(sql).sql == 'SELECT "t"."id" FROM "t" WHERE "t"."id" IN (...)'
            assert statement_kind(sql) == "read"
        del sql
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        fingerprint.cache_clear()
        statement_kind.cache_clear()
    assert kept < 2 * budget + 64 * 1024, f"the SQL memos keep {kept / 1024:.0f} KiB"


def _old() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=400)


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_monitor")
def test_old_query_shapes_and_plans_are_pruned() -> None:
    from django_dbopt.monitor.models import PlanCache, QueryShape, QueryStat

    QueryShape.objects.create(
        fingerprint="0" * 16, sql="SELECT ?", alias="default", first_seen=_old()
    )
    QueryShape.objects.create(
        fingerprint="1" * 16, sql="SELECT ?", alias="default", first_seen=_old()
    )
    QueryStat.objects.create(  # still in use: its shape stays
        bucket_start=timezone.now(),
        resolution_s=300,
        fingerprint="1" * 16,
        view="-",
        calls=1,
        total_ms=1.0,
        min_ms=1.0,
        max_ms=1.0,
    )
    PlanCache.objects.create(fingerprint="0" * 16, alias="default", plan={}, at=_old())
    PlanCache.objects.create(fingerprint="2" * 16, alias="default", plan={}, at=timezone.now())
    DatabaseStore().maintain()
    assert list(QueryShape.objects.values_list("fingerprint", flat=True)) == ["1" * 16]
    assert list(PlanCache.objects.values_list("fingerprint", flat=True)) == ["2" * 16]


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_monitor")
def test_redis_shapes_expire_and_stale_ones_are_pruned() -> None:
    from django_dbopt.monitor.aggregates import AGGREGATES
    from django_dbopt.monitor.flush import flush_now
    from django_dbopt.monitor.redis_store import PREFIX, RedisStore

    redis = caches["redis"].client.get_client(write=True)  # type: ignore[attr-defined]
    redis.flushdb()
    with override_settings(DBOPT=monitor_config(store_cache="redis")):
        old = fingerprint("SELECT 'old shape'")
        new = fingerprint("SELECT 'new shape', 1")
        for fp in (old, new):
            AGGREGATES.add(fp, "default", "-", 1000, False)
        flush_now()
        ttl = redis.ttl(f"{PREFIX}shapes")
        assert 0 < ttl <= 14 * 86400, f"the shapes hash has no expiry (TTL {ttl})"
        # as if the old shape's last flush was 400 days ago
        redis.zadd(f"{PREFIX}shapes:seen", {old.id: time.time() - 400 * 86400})
        RedisStore("redis").maintain()
        assert redis.hget(f"{PREFIX}shapes", old.id) is None
        assert redis.hget(f"{PREFIX}shapes", new.id) is not None

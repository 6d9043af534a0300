"""The shared store: flushes from several OS processes merged, buckets, retention."""

from __future__ import annotations

import datetime
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from django_dbopt.exceptions import ServiceUnavailable
from django_dbopt.monitor import histogram, scope
from django_dbopt.monitor.aggregates import AGGREGATES
from django_dbopt.monitor.db_store import DatabaseStore
from django_dbopt.monitor.fingerprint import fingerprint
from django_dbopt.monitor.flush import flush_now, maintain_now
from django_dbopt.monitor.models import QueryStat, SlowQuery
from django_dbopt.monitor.store import Store, get_store, merge_by
from tests.monitor_fixtures import fresh_monitor, monitor_config  # noqa: F401
from tests.services import Services
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_monitor"),
]

PROBE = "SELECT %s::int AS worker_probe"
PROBE_OUTAGE = fingerprint("SELECT 'during the outage'").id


@pytest.fixture(params=["db", "redis"])
def store_kind(request: pytest.FixtureRequest, services: Services) -> Iterator[str]:
    import redis

    redis.Redis.from_url(services.redis_url).flushdb()
    config = monitor_config(store_cache="redis" if request.param == "redis" else None)
    with override_settings(DBOPT=config):
        yield request.param


def test_two_os_processes_are_merged(store_kind: str) -> None:
    dbname = connection.settings_dict["NAME"]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.monitor_worker", dbname, store_kind, "worker", str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in (7, 11)
    ]
    pids = set()
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        pids.add(int(out.strip()))
    assert len(pids) == 2
    store = get_store()
    loaded = store.load(since=timezone.now() - datetime.timedelta(minutes=5), view="worker")
    probe = loaded[(fingerprint(PROBE).id, "worker")]
    assert probe.calls == 18
    assert sum(probe.hist.values()) == 18
    assert 0 < probe.min_ns <= probe.max_ns
    assert probe.fingerprint.sql == "SELECT ?::int AS worker_probe"
    assert store.processes(since=None)["processes"] == 2


def test_flush_then_load_round_trips_exactly(store_kind: str) -> None:
    with scope("round-trip"), connection.cursor() as cursor:
        for n in range(30):
            cursor.execute("SELECT %s::int + 1 AS round_trip", [n])
    local = {k: v for k, v in AGGREGATES.peek().items() if k[1] == "round-trip"}
    flush_now()
    assert AGGREGATES.peek() == {}
    loaded = get_store().load(since=timezone.now() - datetime.timedelta(minutes=5))
    for key, stats in local.items():
        again = loaded[key]
        assert (again.calls, again.hist) == (stats.calls, stats.hist)
        assert again.total_ns == pytest.approx(stats.total_ns, rel=1e-6)
        assert histogram.percentile(again.hist, 0.95) == histogram.percentile(stats.hist, 0.95)


def test_slow_queries_and_findings_reach_the_store(store_kind: str) -> None:
    with override_settings(
        DBOPT=monitor_config(
            slow_query_ms=20,
            nplusone_min_total_ms=0,
            store_cache="redis" if store_kind == "redis" else None,
        )
    ):
        with scope("slow-view"), connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.03)")
            for n in range(6):
                cursor.execute("SELECT %s::int AS repeated", [n])
        flush_now()
        store = get_store()
        # only the pg_sleep is slow by design (on a busy machine others may be too)
        sleep_id = fingerprint("SELECT pg_sleep(0.03)").id
        (slow,) = [
            s
            for s in store.slow_queries(since=None, view="slow-view")
            if s["fingerprint"] == sleep_id
        ]
        assert slow["duration_ms"] >= 30
        assert slow["call_site"].startswith("tests/test_monitor_store.py:")
        (finding,) = store.findings(since=None, view="slow-view")
        assert finding["max_count"] == 6
        assert finding["occurrences"] == 1
        assert "repeated" in finding["sql"]


def test_an_unreachable_store_keeps_the_data_for_the_next_flush() -> None:
    class Broken:
        def write(self, *args: Any) -> None:
            from django.db import OperationalError

            raise OperationalError("store down")

    with scope("kept"), connection.cursor() as cursor:
        cursor.execute("SELECT 'kept'")
    before = {k: v.calls for k, v in AGGREGATES.peek().items()}
    broken: Any = Broken()
    with pytest.raises(ServiceUnavailable, match="store down"):
        flush_now(broken)
    assert {k: v.calls for k, v in AGGREGATES.peek().items()} == before


def test_compaction_rollup_and_bounded_pruning() -> None:
    store: Store = DatabaseStore()
    now = timezone.now()

    def row(age: datetime.timedelta, calls: int) -> QueryStat:
        return QueryStat(
            bucket_start=(now - age).replace(second=0, microsecond=0),
            resolution_s=60,
            fingerprint="f" * 16,
            view="v",
            calls=calls,
            total_ms=calls * 1.0,
            min_ms=1.0,
            max_ms=1.0,
            slow=0,
            histogram={str(histogram.bucket_of(1_000_000)): calls},
        )

    recent = datetime.timedelta(minutes=10)
    QueryStat.objects.bulk_create(
        [row(recent, 1), row(recent, 2), row(recent, 3)]  # one bucket, three flushes
        + [row(datetime.timedelta(hours=30, minutes=m), 1) for m in (1, 2, 3)]  # one hour
        + [row(datetime.timedelta(days=20), 1) for _ in range(5)]  # expired
    )
    SlowQuery.objects.create(
        fingerprint="f" * 16,
        view="v",
        alias="default",
        call_site="x",
        duration_ms=1,
        at=now - datetime.timedelta(days=20),
    )
    with override_settings(DBOPT=monitor_config(prune_batch=2)):
        done = maintain_now(store)
    assert done["pruned"] == 5 + 1  # all expired rows, two per DELETE
    rows = list(QueryStat.objects.order_by("bucket_start"))
    assert [(r.resolution_s, r.calls) for r in rows if r.resolution_s == 60] == [(60, 6)]
    hours = [r for r in rows if r.resolution_s == 3600]
    # the three old minutes fall in one hour, or in two when an hour boundary (wall clock)
    # passes between them: 1 + 2 or 2 + 1
    assert sorted(r.calls for r in hours) in ([3], [1, 2])
    assert all(r.bucket_start.minute == 0 for r in hours)
    loaded = merge_by(store.load(since=None).items(), by_view=False)
    assert loaded["f" * 16].calls == 9


@pytest.mark.postgres
def test_plans_are_cached_per_fingerprint_in_redis(services: Services) -> None:
    import redis

    from django_dbopt.monitor.plans import cached_plan, plan_for

    redis.Redis.from_url(services.redis_url).flushdb()
    shape = fingerprint('SELECT "users"."id" FROM "users" WHERE "users"."email" = %s')
    with override_settings(DBOPT=monitor_config(store_cache="redis")):
        assert cached_plan(shape.id, "default") is None
        first = plan_for(shape.id, shape.sql, "default")
        assert cached_plan(shape.id, "default") == first
        assert plan_for(shape.id, shape.sql, "default")["at"] == first["at"]
    assert redis.Redis.from_url(services.redis_url).keys("*dbopt:plan:default:*")


def test_background_flusher_writes_without_being_asked() -> None:

    from django_dbopt.monitor.flush import ensure_flusher, stop_flusher

    stop_flusher()
    with override_settings(DBOPT=monitor_config(flush_interval_s=0.1)):
        with scope("background"), connection.cursor() as cursor:
            cursor.execute("SELECT 'flushed by the thread'")
        ensure_flusher()
        try:
            wait_until(lambda: QueryStat.objects.filter(view="background").exists(), 30, 0.05)
        finally:
            stop_flusher()
    assert QueryStat.objects.filter(view="background").exists()
    assert not [k for k in AGGREGATES.peek() if k[1] == "background"]


def test_redis_outage_keeps_data_until_it_is_back(controllable_services: Services) -> None:
    import redis

    with override_settings(DBOPT=monitor_config(store_cache="redis")):
        with scope("outage"), connection.cursor() as cursor:
            cursor.execute("SELECT 'during the outage'")
        controllable_services.stop_redis()
        try:
            with pytest.raises(ServiceUnavailable):
                flush_now()
            with connection.cursor() as cursor:  # queries go on, and are still recorded
                cursor.execute("SELECT 'during the outage'")
        finally:
            controllable_services.start_redis()
        kept = {k[1]: s.calls for k, s in AGGREGATES.peek().items() if k[0] == PROBE_OUTAGE}
        assert kept == {"outage": 1, "-": 1}  # in the scope, and outside it
        from django.core.cache import caches

        caches["redis"].close()  # drop the dead connection
        flush_now()
        loaded = get_store().load(since=None)
    assert sum(s.calls for k, s in loaded.items() if k[0] == PROBE_OUTAGE) == 2
    assert redis.Redis.from_url(controllable_services.redis_url).ping()


def test_week_old_hours_become_days() -> None:
    store = DatabaseStore()
    day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    start = day - datetime.timedelta(days=9)
    QueryStat.objects.bulk_create(
        QueryStat(
            bucket_start=start + datetime.timedelta(hours=h),
            resolution_s=3600,
            fingerprint="d" * 16,
            view="v",
            calls=1,
            total_ms=1.0,
            min_ms=1.0,
            max_ms=1.0,
            histogram={"100": 1},
            compacted=True,
        )
        for h in range(0, 24, 3)
    )
    maintain_now(store)
    ((resolution, calls, bucket),) = QueryStat.objects.values_list(
        "resolution_s", "calls", "bucket_start"
    )
    assert (resolution, calls, bucket) == (86400, 8, start)

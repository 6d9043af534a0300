"""``run_benchmark`` end to end on the real PostgreSQL primary + streaming standby + Redis:
every workload runs and reports, the A/B measures each part, the JSON fits its schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from django.core.cache import caches
from django.test import override_settings

from django_dbopt.benchmark.models import BenchmarkRun, ScratchItem
from django_dbopt.benchmark.runner import BUILTIN, Options, run_benchmark
from django_dbopt.benchmark.schema import SCHEMA
from django_dbopt.routing.health import monitor
from tests.cache_fixtures import caches_setting, orm_settings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]

ROUTER = "django_dbopt.routing.ReplicaRouter"


def nplusone() -> None:
    """A user workload with an N+1: one author query per item."""
    for item in ScratchItem.objects.order_by("pk")[:8]:
        assert item.author.name


@pytest.fixture
def everything_on(services: Any) -> Iterator[None]:
    dbopt = {
        **orm_settings([]),
        "MONITOR": {"NPLUSONE_MIN_TOTAL_MS": 0.0},
        "BENCHMARK": {"TARGETS": {"P99_MS": 1000}},
    }
    monitor.reset()
    with override_settings(CACHES=caches_setting(), DBOPT=dbopt, DATABASE_ROUTERS=[ROUTER]):
        caches["default"].clear()
        yield
        caches["default"].clear()
    monitor.reset()


def test_every_workload_runs_and_reports(everything_on: None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:  # preloaded by the suite's server
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    from django.test import Client

    # the first request of a process loads the URLconf and compiles templates: under a
    # heavy load that alone can outlast a sub-second run
    assert Client().get("/security-events/").status_code == 200
    options = Options(
        duration_s=0.6,
        warmup_s=0.2,
        trials=2,
        user=[
            "function:tests.test_benchmark_run.nplusone",
            "queryset:M('demo.User').objects.filter(is_active=True)[:5]",
            "url:/security-events/",
        ],
        ab_rounds=2,
        label="all",
    )
    report = run_benchmark(options)
    jsonschema.validate(report, SCHEMA)

    by_name = {w["name"]: w for w in report["workloads"]}
    assert set(BUILTIN) <= set(by_name)
    for w in report["workloads"]:
        assert "skipped" not in w, w
        assert w["ops"] > 0, (w["name"], w["errors"], w["error_samples"])
        assert w["errors"] == 0, (w["name"], w["error_samples"])
        lat = w["latency_ms"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]
        assert len(w["trial_means_ms"]) == 2
    assert set(by_name["crud"]["operations"]) == {"create", "read", "list", "update", "delete"}
    assert by_name["transactions"]["queries"]["per_op"] >= 4  # a multi-statement block
    # reads went to the standby, read-your-writes never failed (a violation is an error)
    replica = by_name["replica"]
    aliases = {a for fp in replica["top_fingerprints"] for a in fp["aliases"]}
    assert {"default", "replica"} <= aliases
    assert replica["operations"]["ryw"]["ops"] > 0
    assert "cache_hit_ratio" in by_name["cache"]
    assert (
        by_name["cache"]["counters"]["cache_hits"] + by_name["cache"]["counters"]["cache_misses"]
        > 0
    )

    ab = {a["part"]: a for a in report["ab"]}
    assert ab["pool"]["skipped"].startswith("no pool")
    for part in ("monitor", "cache", "cache-primary", "router"):
        assert ab[part]["rounds"] == 2
        assert ab[part]["throughput_ratio"]["ratio"] > 0
    # the monitor's "off" side carries no query bookkeeping of the benchmark's own
    assert ab["monitor"]["queries_ratio"] is None
    assert ab["monitor"]["off"]["queries_per_op"] == [0, 0]
    # read-mostly reads on the primary: most never reach the database with the cache on
    assert ab["cache-primary"]["queries_saved"] > 0.5, ab["cache-primary"]
    assert ab["router"]["replica_share_on"] > 0.9

    assert report["calibration"]["method"] == "psycopg SELECT 1 loop"
    assert report["resources"]["pg_stat_database"]["xact_commit"] > 0
    statements = report["resources"]["pg_stat_statements"]
    assert any("dbopt_bench_item" in s["query"] and s["calls"] > 0 for s in statements)
    grades = {g["key"]: g for g in report["grades"]["targets"]}
    assert grades["replica_lag_s"]["grade"] is not None
    assert grades["p99_ms"]["target"] == 1000
    assert report["grades"]["overall"] in "ABCDF"
    kinds = {r["kind"] for r in report["recommendations"]}
    assert "n+1" in kinds, report["recommendations"]

    stored = BenchmarkRun.objects.get(pk=report["run_id"])
    assert stored.label == "all"
    assert stored.env_key == report["environment"]["env_key"]
    assert [w["name"] for w in stored.report["workloads"]] == list(by_name)


def test_a_new_scratch_set_is_not_served_from_an_old_runs_cache(everything_on: None) -> None:
    """The scratch tables are dropped and made again with the same primary keys: the ORM
    cache must not serve rows cached from the dropped tables (DDL bumps no generation)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_dbopt.benchmark import toggles
    from django_dbopt.benchmark.models import ScratchAuthor
    from django_dbopt.benchmark.scratch import scratch_tables
    from django_dbopt.routing import use_primary

    def queries_for_first_author(pk: int) -> int:
        with toggles.orm_cache(), use_primary(), CaptureQueriesContext(connection) as seen:
            ScratchAuthor.objects.get(pk=pk)
        return len(seen.captured_queries)

    with scratch_tables("default", authors=3, items=3) as first:
        pk = first.author_pks[0]
        assert queries_for_first_author(pk) == 1
        assert queries_for_first_author(pk) == 0  # cached
    with scratch_tables("default", authors=3, items=3) as second:
        assert second.author_pks[0] == pk  # a new table, the same key
        assert queries_for_first_author(pk) == 1

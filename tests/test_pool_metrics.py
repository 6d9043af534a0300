"""The Prometheus endpoint: every family that exists, read at scrape time."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from tests.pool_fixtures import pooled, pooled_alias  # noqa: F401

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica", "pooled"]),
    pytest.mark.usefixtures("pooled_alias"),
]


def _scrape() -> dict[str, Any]:
    with override_settings(ROOT_URLCONF="tests.pool_fixtures"):
        response = Client().get("/dbopt/metrics/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = text_string_to_metric_families(response.content.decode())
    return {f.name: f for f in families}


def _samples(family: Any, **labels: str) -> dict[str, float]:
    return {
        s.name + str(sorted(s.labels.items())): s.value
        for s in family.samples
        if all(s.labels.get(k) == v for k, v in labels.items())
    }


def _value(family: Any, suffix: str = "", **labels: str) -> float:
    (value,) = [
        s.value
        for s in family.samples
        if s.name == family.name + suffix and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return float(value)


def test_pool_database_and_breaker_families() -> None:
    with pooled(min_size=1, max_size=3) as wrapper:
        for _ in range(3):
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT 1")
            wrapper.close()
        families = _scrape()
    assert _value(families["dbopt_pool_checkouts"], "_total", alias="pooled") == 3
    assert _value(families["dbopt_pool_connections"], state="max", alias="pooled") == 3
    assert _value(families["dbopt_pool_connections"], state="in_use", alias="pooled") == 0
    assert _value(families["dbopt_pool_connections_opened"], "_total", alias="pooled") >= 1
    assert _value(families["dbopt_pool_leaks"], "_total", alias="pooled", kind="request_end") == 0
    assert _value(families["dbopt_pool_errors"], "_total", alias="pooled", kind="exhausted") == 0
    assert "dbopt_pool_wait_seconds" in families
    assert "dbopt_pool_requests_waiting" in families
    assert "dbopt_pool_connect_errors" in families
    assert "dbopt_pool_connections_lost" in families
    # databases, probed read-only at scrape time
    assert _value(families["dbopt_database_up"], alias="default") == 1
    assert _value(families["dbopt_database_up"], alias="replica") == 1
    assert _value(families["dbopt_database_in_recovery"], alias="replica") == 1
    assert _value(families["dbopt_database_in_recovery"], alias="default") == 0
    assert _value(families["dbopt_database_replica_lag_seconds"], alias="replica") >= 0
    assert _value(families["dbopt_database_replica_lag_bytes"], alias="replica") >= 0
    assert "dbopt_database_probe_seconds" in families
    # the pool's breaker, one sample per state
    breaker = families["dbopt_breaker_state"]
    assert _value(breaker, component="pool", name="pooled", state="closed") == 1
    assert _value(breaker, component="pool", name="pooled", state="open") == 0


def test_pool_without_data_exports_no_zeros() -> None:
    with pooled(min_size=1, max_size=3):
        families = _scrape()
    assert _samples(families["dbopt_pool_checkouts"], alias="pooled") == {}


def test_other_parts_are_read_through_their_documented_functions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The contract with the monitor, cache and router (stand-ins until they are merged)."""
    monitor = types.ModuleType("django_dbopt.monitor")
    calls: list[int] = []

    def query_stats(limit: int) -> list[dict[str, Any]]:
        calls.append(limit)
        return [
            {
                "alias": "default",
                "fingerprint": "a1b2c3",
                "count": 3,
                "total_s": 0.012,
                "buckets": [(0.001, 1), (0.01, 3), (float("inf"), 3)],
            }
        ]

    monitor.query_stats = query_stats  # type: ignore[attr-defined]
    cache = types.ModuleType("django_dbopt.cache")
    cache.stats = lambda: {  # type: ignore[attr-defined]
        "tiers": {"l1": {"hits": 5, "misses": 2}, "l2": {"hits": 1, "misses": 1}},
        "breaker": "open",
    }
    routing = types.ModuleType("django_dbopt.routing")
    routing.status = lambda: {  # type: ignore[attr-defined]
        "decisions": {"write": 4, "replica": 7},
        "replicas": [
            {
                "primary": "default",
                "alias": "replica",
                "lag_s": 0.5,
                "in_rotation": True,
                "breaker": "closed",
            }
        ],
    }
    for module in (monitor, cache, routing):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    with override_settings(DBOPT={"POOL": {"METRICS_MAX_FINGERPRINTS": 7}}):
        families = _scrape()
    assert calls == [7]  # cardinality bound passed to the monitor
    assert _value(families["dbopt_queries"], "_total", fingerprint="a1b2c3") == 3
    duration = families["dbopt_query_duration_seconds"]
    assert _value(duration, "_bucket", fingerprint="a1b2c3", le="0.01") == 3
    assert _value(duration, "_sum", fingerprint="a1b2c3") == pytest.approx(0.012)
    assert _value(families["dbopt_cache_hits"], "_total", tier="l1") == 5
    assert _value(families["dbopt_cache_misses"], "_total", tier="l2") == 1
    assert _value(families["dbopt_routing_decisions"], "_total", reason="replica") == 7
    assert _value(families["dbopt_routing_replica_lag_seconds"], replica="replica") == 0.5
    assert _value(families["dbopt_routing_replica_in_rotation"], replica="replica") == 1
    breaker = families["dbopt_breaker_state"]
    assert _value(breaker, component="cache", state="open") == 1
    assert _value(breaker, component="replica", name="replica", state="closed") == 1


def test_each_part_family_exists_exactly_when_the_part_does() -> None:
    from django_dbopt.metrics import part_function

    families = _scrape()
    for module, function, family in (
        ("django_dbopt.monitor", "query_stats", "dbopt_queries"),
        ("django_dbopt.cache", "stats", "dbopt_cache_hits"),
        ("django_dbopt.routing", "status", "dbopt_routing_decisions"),
    ):
        present = part_function(module, function) is not None
        assert (family in families) is present, (module, present)

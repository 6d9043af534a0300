"""The Prometheus endpoint: every family that exists, read at scrape time."""

from __future__ import annotations

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


def test_query_and_routing_families_come_from_the_real_parts() -> None:
    from django_dbopt.monitor import scope
    from django_dbopt.monitor.flush import flush_now
    from django_dbopt.routing.health import monitor as routing_monitor
    from example_project.demo.models import User
    from tests.routing_fixtures import routed

    with routed():
        routing_monitor.probe_round()
        with scope("metrics-check"):
            for _ in range(3):
                list(User.objects.filter(email="nobody@example.com"))
        flush_now()  # folded into the totals; the counter must not drop after a flush
        with scope("metrics-check"):
            list(User.objects.filter(email="someone@example.com"))
        families = _scrape()
    queries = families["dbopt_queries"]
    users = [s for s in queries.samples if s.name == "dbopt_queries_total" and s.value >= 4]
    assert users, "the users lookup (3 + 1 runs) is exported"
    # the same fingerprint may be exported once per database (earlier tests' queries):
    # match every label of the counter's sample
    labels = dict(users[0].labels)
    duration = families["dbopt_query_duration_seconds"]
    assert _value(duration, "_count", **labels) == users[0].value
    assert _value(duration, "_bucket", le="+Inf", **labels) == users[0].value
    assert _value(duration, "_sum", **labels) > 0
    decisions = families["dbopt_routing_decisions"]
    assert _value(decisions, "_total", reason="replica") >= 4  # reads went to the standby
    assert _value(families["dbopt_routing_replica_in_rotation"], replica="replica") == 1
    assert _value(families["dbopt_routing_replica_lag_seconds"], replica="replica") >= 0
    breaker = families["dbopt_breaker_state"]
    assert _value(breaker, component="replica", name="replica", state="closed") == 1


def test_cache_families_come_from_the_real_two_tier_cache() -> None:
    from django.core.cache import caches

    from example_project.demo.models import Project, User
    from tests.cache_fixtures import caches_setting, orm_settings

    owner = User.objects.create_user(email="cache-metrics@example.com", password="x")
    project = Project.objects.create(name="metrics", owner=owner)
    with override_settings(CACHES=caches_setting(), DBOPT=orm_settings()):
        caches["default"].clear()
        # a miss, then hits (the first store may ride along the next Redis fetch, and L1
        # serves once this process's invalidation listener is subscribed)
        for _ in range(5):
            Project.objects.get(pk=project.pk)
        project.save()  # an invalidation of "projects"
        families = _scrape()
    hits = _value(families["dbopt_cache_hits"], "_total", tier="l1")
    hits += _value(families["dbopt_cache_hits"], "_total", tier="l2")
    assert hits >= 1
    assert _value(families["dbopt_cache_table_hits"], "_total", table="projects") >= 1
    assert _value(families["dbopt_cache_table_invalidations"], "_total", table="projects") >= 1
    assert _value(families["dbopt_cache_l1_bytes"]) >= 0
    assert _value(families["dbopt_cache_ack_waits"], "_total") >= 0  # the family is exported
    breaker = families["dbopt_breaker_state"]
    assert _value(breaker, component="cache", name="default", state="closed") == 1


def test_cardinality_of_query_families_is_bounded() -> None:
    from django_dbopt.monitor import scope
    from example_project.demo.models import Task, User

    with scope("metrics-bound"):
        list(User.objects.all()[:1])
        list(Task.objects.all()[:1])
        list(Task.objects.filter(status="done")[:1])
    with override_settings(DBOPT={"POOL": {"METRICS_MAX_FINGERPRINTS": 2}}):
        families = _scrape()
    series = {s.labels["fingerprint"] for s in families["dbopt_queries"].samples}
    assert len(series) == 2


def test_cache_families_are_absent_without_a_two_tier_cache() -> None:
    families = _scrape()  # tests.settings: locmem and django-redis, no TwoTierCache
    assert "dbopt_cache_hits" not in families
    assert "dbopt_queries" in families
    assert "dbopt_routing_decisions" in families


def test_the_cache_stats_function_is_not_shadowed_by_a_module() -> None:
    import django_dbopt.cache.backend  # noqa: F401  (imports every cache module)
    from django_dbopt.cache import stats

    assert callable(stats)

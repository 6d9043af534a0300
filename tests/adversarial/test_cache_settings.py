"""Attack: NaN passed settings validation (issue 11, item 14). ``nan < minimum`` is
False, so ``ROUTING.MAX_LAG_S = nan`` marked a replica 3,600 s behind as healthy,
``POOL.CHECKOUT_TIMEOUT_S = nan`` and the cache's ``L1_TIMEOUT = nan`` (entries never
expire) passed too. Every number validated must now be finite. No service needed."""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.test import override_settings

from django_dbopt.cache.checks import check_cache
from django_dbopt.validation import find_problems

NOT_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", NOT_FINITE)
@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("ROUTING", "MAX_LAG_S"),
        ("ROUTING", "PROBE_INTERVAL_S"),
        ("POOL", "CHECKOUT_TIMEOUT_S"),
        ("POOL", "LEAK_THRESHOLD_S"),
        ("MONITOR", "SLOW_QUERY_MS"),
        ("CACHE", "STAMPEDE_WAIT_S"),
    ],
)
def test_dbopt_numbers_must_be_finite(section: str, key: str, value: float) -> None:
    problems = find_problems({section: {key: value}})
    assert [p.id for p in problems] == ["django_dbopt.E003"], problems
    assert "finite" in problems[0].msg


@pytest.mark.parametrize("value", NOT_FINITE)
def test_replica_weights_must_be_finite(value: float) -> None:
    replicas = {"default": {"replica": value}}
    problems = find_problems({"ROUTING": {"REPLICAS": replicas}}, databases=["default", "replica"])
    assert problems, "a non-finite weight passed"


def _cache_messages(**options: Any) -> list[str]:
    caches = {
        "default": {
            "BACKEND": "django_dbopt.cache.TwoTierCache",
            "OPTIONS": {"L2": "redis", **options},
        },
        "redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"},
    }
    with override_settings(CACHES=caches):
        return [f"{m.id}: {m.msg}" for m in check_cache()]


@pytest.mark.parametrize("value", NOT_FINITE)
@pytest.mark.parametrize("key", ["L1_TIMEOUT", "L1_LEASE", "BREAKER_RESET", "RESTART_QUARANTINE"])
def test_cache_options_must_be_finite(key: str, value: float) -> None:
    messages = _cache_messages(**{key: value})
    assert any(m.startswith("django_dbopt.E034") and key in m for m in messages), messages


def test_finite_values_still_pass() -> None:
    assert find_problems({"ROUTING": {"MAX_LAG_S": 2.5}, "POOL": {"CHECKOUT_TIMEOUT_S": 3}}) == []
    assert _cache_messages(L1_TIMEOUT=2.5, L1_LEASE=1) == []

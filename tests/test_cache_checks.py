"""System checks of the cache configuration (no connection needed: both runs)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from django_dbopt.cache.checks import check_cache

REDIS = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}


def ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        return [m.id for m in check_cache()]  # type: ignore[misc]


def two_tier(**options: Any) -> dict[str, Any]:
    return {
        "default": {"BACKEND": "django_dbopt.cache.TwoTierCache", "OPTIONS": options},
        "redis": REDIS,
    }


def test_a_valid_configuration_passes() -> None:
    caches = two_tier(L2="redis", L1_MAX_BYTES=1024, L1_TIMEOUT=2.5, CODEC="zlib")
    assert ids(CACHES=caches, DBOPT={"CACHE": {"ORM_MODELS": ["demo", "auth.Group"]}}) == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"L2": "missing"}, "django_dbopt.E031"),
        ({"L2": "default"}, "django_dbopt.E031"),  # itself, not Redis
        ({"L1_MAX_BYTES": -1}, "django_dbopt.E034"),
        ({"L1_MAX_BYTES": "big"}, "django_dbopt.E034"),
        ({"CODEC": "lz5"}, "django_dbopt.E034"),
        ({"TYPO": 1}, "django_dbopt.E034"),
        ({"L1_LEASE": 0}, "django_dbopt.E034"),
        ({"ACK_INVALIDATIONS": "yes"}, "django_dbopt.E034"),
        ({"ACK_INVALIDATIONS": 1}, "django_dbopt.E034"),
        ({"RESTART_QUARANTINE": 0.5, "L1_LEASE": 1.0}, "django_dbopt.E036"),
    ],
)
def test_bad_options(options: dict[str, Any], expected: str) -> None:
    assert expected in ids(CACHES=two_tier(**options))


def test_leases_and_acks_options() -> None:
    assert ids(CACHES=two_tier(L1_LEASE=0.5, ACK_INVALIDATIONS=False)) == []
    # no quarantine at all is allowed (no restart protection, documented)
    assert ids(CACHES=two_tier(RESTART_QUARANTINE=0, L1_LEASE=2)) == []


def test_orm_caching_needs_a_two_tier_cache() -> None:
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ids(CACHES=caches, DBOPT={"CACHE": {"ORM_MODELS": ["demo"]}}) == ["django_dbopt.E030"]


def test_unknown_models_and_warmers() -> None:
    found = ids(
        CACHES=two_tier(),
        DBOPT={
            "CACHE": {
                "ORM_MODELS": ["nope"],
                "TRACK_MODELS": ["demo.Nope"],
                "WARM": ["tests.nowhere.warm", "os.sep"],
            }
        },
    )
    assert found == ["django_dbopt.E033"] * 2 + ["django_dbopt.E035"] * 2

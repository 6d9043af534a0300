from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_dbopt.conf import get_config
from django_dbopt.validation import find_problems


def test_defaults_without_setting() -> None:
    config = get_config()
    assert config.monitor.enabled is True
    assert config.monitor.capture_params is False
    assert config.routing.replicas == {}


@override_settings(DBOPT={"MONITOR": {"SLOW_QUERY_MS": 50}, "ROUTING": {"MAX_LAG_S": 1.5}})
def test_user_values_merge_over_defaults() -> None:
    config = get_config()
    assert config.monitor.slow_query_ms == 50
    assert config.monitor.enabled is True  # untouched default
    assert config.routing.max_lag_s == 1.5


def test_cache_follows_setting_changes() -> None:
    with override_settings(DBOPT={"MONITOR": {"ENABLED": False}}):
        assert get_config().monitor.enabled is False
    assert get_config().monitor.enabled is True


@override_settings(DBOPT={"MONITOR": {"SLOW_QUERY_MS": "fast"}})
def test_runtime_access_to_bad_setting_names_the_problem() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"SLOW_QUERY_MS.*django_dbopt.E003"):
        get_config()


@pytest.mark.parametrize(
    ("value", "expected_id", "text"),
    [
        ([], "django_dbopt.E001", "must be a dict"),
        ({"MONITOR": 1}, "django_dbopt.E001", "must be a dict"),
        ({"MONTOR": {}}, "django_dbopt.E002", "Did you mean 'MONITOR'"),
        ({"MONITOR": {"SLOW_QUERY": 1}}, "django_dbopt.E002", "Did you mean 'SLOW_QUERY_MS'"),
        ({"MONITOR": {"ENABLED": "yes"}}, "django_dbopt.E003", "expected bool"),
        ({"MONITOR": {"MAX_FINGERPRINTS": True}}, "django_dbopt.E003", "expected int"),
        ({"MONITOR": {"SLOW_QUERY_MS": -1}}, "django_dbopt.E006", "at least 0"),
        ({"ROUTING": {"NO_FIT_REPLICA": "random"}}, "django_dbopt.E003", "'primary' or"),
        ({"CACHE": {"ORM_MODELS": ["demo", 3]}}, "django_dbopt.E003", "expected str"),
        (
            {"ROUTING": {"REPLICAS": {"default": {"default": 1}}}},
            "django_dbopt.E007",
            "own replica",
        ),
        ({"ROUTING": {"REPLICAS": {"default": {"r1": 0}}}}, "django_dbopt.E006", "positive"),
    ],
)
def test_problems_have_ids_and_hints(value: object, expected_id: str, text: str) -> None:
    problems = find_problems(value, databases=["default", "r1"], caches=["default"])
    assert [p.id for p in problems] == [expected_id]
    assert text in problems[0].msg + problems[0].hint
    assert problems[0].hint


def test_aliases_are_checked_against_configuration() -> None:
    problems = find_problems(
        {"CACHE": {"CACHE": "nope"}, "ROUTING": {"REPLICAS": {"default": {"ghost": 1}}}},
        databases=["default"],
        caches=["default"],
    )
    assert sorted(p.id for p in problems) == ["django_dbopt.E004", "django_dbopt.E005"]
    assert any("'ghost'" in p.msg for p in problems)


def test_valid_settings_have_no_problems() -> None:
    value = {
        "MONITOR": {"SLOW_QUERY_MS": 100, "STORE_CACHE": None},
        "ROUTING": {
            "REPLICAS": {"default": {"r1": 2, "r2": 0.5}},
            "NO_FIT_REPLICA": "least_lagged",
        },
        "CACHE": {"ORM_MODELS": ["demo.Task", "auth"]},
    }
    assert find_problems(value, databases=["default", "r1", "r2"], caches=["default"]) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (
            {"ROUTING": {"REPLICAS": {"default": ["r1"]}}},
            "DBOPT['ROUTING']['REPLICAS']['default'] is ['r1'] (list); "
            "expected dict of str to float",
        ),
        (
            {"ROUTING": {"REPLICAS": {"default": {"r1": "1"}}}},
            "DBOPT['ROUTING']['REPLICAS']['default']['r1'] is '1' (str); expected float",
        ),
        (
            {"CACHE": {"ORM_MODELS": ["demo", 3]}},
            "DBOPT['CACHE']['ORM_MODELS'][1] is 3 (int); expected str",
        ),
    ],
)
def test_a_wrong_type_inside_a_container_names_the_item_that_is_wrong(
    value: object, text: str
) -> None:
    """Not "is {...} (dict); expected dict": the message points at what to fix."""
    problems = find_problems(value, databases=["default", "r1"], caches=["default"])
    assert [p.id for p in problems] == ["django_dbopt.E003"]
    assert problems[0].msg == text + "."

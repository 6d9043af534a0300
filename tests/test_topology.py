from __future__ import annotations

import pytest
from django.test import override_settings

from django_dbopt.topology import is_primary, primary_of, replicas_of

CLUSTERS = {"ROUTING": {"REPLICAS": {"default": {"r1": 1, "r2": 3}, "other": {"o1": 1}}}}


@override_settings(DBOPT=CLUSTERS)
def test_clusters_from_settings() -> None:
    assert replicas_of("default") == {"r1": 1, "r2": 3}
    assert primary_of("r2") == "default"
    assert primary_of("o1") == "other"
    assert primary_of("default") == "default"
    assert is_primary("other")
    assert not is_primary("r1")


def test_without_replicas_every_alias_is_its_own_primary() -> None:
    assert primary_of("default") == "default"
    assert replicas_of("default") == {}


def test_broken_settings_turn_routing_off_instead_of_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with override_settings(DBOPT={"ROUTING": {"REPLICAS": {"default": {"r1": "heavy"}}}}):
        assert primary_of("r1") == "r1"
        assert replicas_of("default") == {}
        primary_of("r1")
    assert [r.levelname for r in caplog.records] == ["ERROR"]  # once, not per call
    assert "E003" in caplog.records[0].getMessage()

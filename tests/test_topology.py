from __future__ import annotations

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

"""Rough edges a newcomer hit (issue 10): a replica alias missing from ``DATABASES``, and
readiness / ``dbopt_pool`` waiting seconds on a replica that refuses connections."""

from __future__ import annotations

import io
import json
import logging
import time
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from django_dbopt.health import readiness_report
from django_dbopt.routing.health import monitor
from tests.routing_fixtures import routed, routing_settings
from tests.routing_hang_fixtures import ALIASES, Proxied, proxied  # noqa: F401
from tests.waiting import wait_until

#: what a readiness check or dbopt_pool may take on a replica that refuses connections
#: (one probe round of a refused server is milliseconds; room for a busy machine)
BOUND = 1.5


def test_a_replica_alias_missing_from_databases_is_improperly_configured(caplog: Any) -> None:
    """With checks skipped, a probe round says E004 in words (no KeyError traceback)."""
    caplog.set_level(logging.ERROR, logger="django_dbopt.routing")
    with routed(replicas={"default": {"ghost": 1}}, probe_interval_s=0.05):
        with pytest.raises(ImproperlyConfigured, match=r"'ghost'.*E004"):
            monitor.probe_round()
        monitor.ensure_started()  # the probe thread reports it too, and goes on
        wait_until(lambda: "probes paused" in caplog.text, 10, what="the probe thread's report")
        assert monitor.running
    records = [r for r in caplog.records if r.name == "django_dbopt.routing"]
    assert records
    assert all(r.exc_info is None for r in records)
    assert all("E004" in r.getMessage() for r in records)


def _refusing(proxied: Proxied) -> Any:  # noqa: F811
    proxy = proxied.proxies["hang_pooled"]
    proxy.refuse()
    proxy.drop_all()
    return proxy


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases=["default", "replica", *ALIASES])
def test_readiness_answers_at_once_for_a_replica_that_refuses(proxied: Proxied) -> None:  # noqa: F811
    dbopt = routing_settings(replicas={"default": {"hang_pooled": 1}})
    dbopt["POOL"] = {"HEALTH_DATABASES": ["default", "hang_pooled"]}
    proxy = _refusing(proxied)
    try:
        with routed(replicas={"default": {"hang_pooled": 1}}), override_settings(DBOPT=dbopt):
            started = time.monotonic()
            status, checks = readiness_report()
            seconds = time.monotonic() - started
    finally:
        proxy.forward()
    print(f"\n[readiness, pooled replica refusing connections] {seconds:.3f} s: {status}")
    assert status == "degraded"
    replica = next(c for c in checks if c["alias"] == "hang_pooled")
    assert replica["reachable"] is False
    assert replica["error"].startswith("ReplicaUnavailable")
    assert seconds < BOUND


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases=["default", "replica", *ALIASES])
def test_dbopt_pool_answers_at_once_for_a_replica_that_refuses(proxied: Proxied) -> None:  # noqa: F811
    proxy = _refusing(proxied)
    out = io.StringIO()
    try:
        with routed(replicas={"default": {"hang_pooled": 1}}):
            started = time.monotonic()
            call_command("dbopt_pool", "--database", "hang_pooled", "--format", "json", stdout=out)
            seconds = time.monotonic() - started
    finally:
        proxy.forward()
    print(f"\n[dbopt_pool, pooled replica refusing connections] {seconds:.3f} s")
    (item,) = json.loads(out.getvalue())
    assert item["server"]["error"].startswith("ReplicaUnavailable")
    assert seconds < BOUND

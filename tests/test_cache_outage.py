"""Redis stopped under the cache: no exception reaches the app, ORM caching is bypassed,
L1 is cleared, the breaker opens, and everything comes back by itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_dbopt.cache.backend import TwoTierCache
from django_dbopt.cache.state import CacheState
from example_project.demo.models import Project, User
from tests.cache_fixtures import caches_setting, orm_settings
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def st(controllable_services: Any) -> Iterator[CacheState]:
    with override_settings(
        CACHES=caches_setting("outage", RESTART_QUARANTINE=5.0, L1_LEASE=0.5), DBOPT=orm_settings()
    ):
        backend = caches["default"]
        assert isinstance(backend, TwoTierCache)
        # a namespace of its own: other tests' caches (no quarantine) must not be the
        # first to find Redis restarted; its first use starts a quarantine, hence 15 s
        assert backend.state.wait_l1(15)
        backend.clear()
        yield backend.state


def test_outage_degrades_without_errors_and_recovers(
    st: CacheState, controllable_services: Any
) -> None:
    owner = User.objects.create_user(email="o@example.com", password="x")
    project = Project.objects.create(name="p", owner=owner)
    cache.set("k", "v")
    Project.objects.get(pk=project.pk)
    assert len(st.l1) > 0
    controllable_services.stop_redis()
    try:
        # L1 may answer until this process notices or its lease lapses (0.5 s): nobody
        # can change a value while Redis is down, and writers wait out the leases
        wait_until(lambda: not st.l1_on, 15)
        assert cache.get("k", "fallback") == "fallback"
        assert len(st.l1) == 0  # cleared: nobody can tell us about invalidations now
        for _ in range(5):
            cache.set("k", "v2")
            assert cache.get_many(["k"]) == {}
            assert cache.add("a", 1) is False
            assert cache.delete("k") is False
            assert cache.has_key("k") is False
            assert cache.touch("k") is False
            assert cache.set_many({"x": 1}) == ["x"]
            with pytest.raises(ValueError, match="not found"):
                cache.incr("k")
        assert st.tier.breaker.state == "open"
        assert not st.l1_on
        # ORM: every read goes to the database, writes are remembered as pending.
        with CaptureQueriesContext(connection) as ctx:
            for _ in range(3):
                assert Project.objects.get(pk=project.pk).name == "p"
        assert len(ctx.captured_queries) == 3
        Project.objects.filter(pk=project.pk).update(name="q")
        assert st.pending
        assert Project.objects.get(pk=project.pk).name == "q"
    finally:
        controllable_services.start_redis()
    wait_until(lambda: cache.set("back", 1) is None and cache.get("back") == 1, 30)
    # Quarantine: for RESTART_QUARANTINE seconds after Redis came back, cached reads are
    # bypassed (another process may still hold invalidations it could not write), and no
    # process gets an L1 lease.
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(2):
            assert Project.objects.get(pk=project.pk).name == "q"
    assert st.tier.client.exists(f"{st.up_key}:young"), "too slow: the quarantine ended"
    assert len(ctx.captured_queries) == 2
    assert st.stats.snapshot()["l2.quarantined"] >= 2
    assert not st.l1_on
    wait_until(lambda: not st.pending, 30)  # written by the listener once resubscribed
    wait_until(lambda: st.l1_on, 30)  # leased again once the quarantine is over
    Project.objects.get(pk=project.pk)
    with CaptureQueriesContext(connection) as ctx:
        assert Project.objects.get(pk=project.pk).name == "q"
    assert len(ctx.captured_queries) == 0

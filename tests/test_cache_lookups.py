"""Whether an L1 miss looks in L2 (``lookups.py``): the decision rule, and the cache
skipping L2 while it holds nothing and going back to it once it does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_dbopt.cache.lookups import (
    LOOK,
    PROBE,
    PROBE_EVERY_S,
    REMEASURE_EVERY_S,
    SKIP,
    Lookups,
)
from django_dbopt.cache.state import CacheState
from example_project.demo.models import Project, User
from tests.cache_fixtures import caches_setting, orm_settings


def test_looks_until_measured_then_only_while_it_pays() -> None:
    lookups = Lookups()
    assert lookups.decide() == LOOK  # nothing measured yet
    lookups.looked(hit=False, seconds=100e-6)
    assert lookups.decide() == LOOK  # the database time is not known yet
    lookups.computed(450e-6)
    for _ in range(30):  # misses only: hit ratio falls below round trip / work
        lookups.looked(hit=False, seconds=100e-6)
    assert lookups.decide() == PROBE  # a probe rides along the database query
    assert [lookups.decide() for _ in range(20)] == [SKIP] * 20
    lookups._last_probe -= PROBE_EVERY_S  # time passes: the next probe is due
    assert lookups.decide() == PROBE
    lookups.looked(hit=False)  # probes that miss change nothing
    assert lookups.decide() == SKIP
    lookups.looked(hit=True)  # a probe found the entry: look again
    assert all(lookups.decide() == LOOK for _ in range(5))


def test_a_slow_moment_does_not_switch_lookups_off_for_good() -> None:
    lookups = Lookups()
    lookups.computed(450e-6)
    assert lookups.decide() == LOOK
    lookups.looked(hit=False, seconds=5e-3)  # one very slow round trip
    assert lookups.decide() == PROBE  # looking does not pay at 5 ms
    assert lookups.decide() == SKIP
    lookups._last_look -= REMEASURE_EVERY_S  # a second later: measure again
    assert lookups.decide() == LOOK
    for _ in range(6):  # one per second: faster again, believed within seconds
        lookups.looked(hit=True, seconds=80e-6)
    assert lookups.round_trip < 1e-3
    assert lookups.decide() == LOOK


def test_a_cheap_round_trip_is_always_worth_it() -> None:
    lookups = Lookups()
    lookups.computed(450e-6)
    for _ in range(50):
        lookups.looked(hit=False, seconds=1e-6)
    lookups.hit = 0.01  # 1% hits pay for a 1 µs round trip against 450 µs of database
    assert all(lookups.decide() == LOOK for _ in range(20))


@pytest.fixture
def st(services: Any) -> Iterator[CacheState]:
    with override_settings(CACHES=caches_setting(), DBOPT=orm_settings()):
        backend = caches["default"]
        assert backend.state.wait_l1(30)
        backend.clear()
        yield backend.state
        backend.clear()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_misses_skip_l2_until_it_holds_entries(st: CacheState) -> None:
    from django.db import connection

    owner = User.objects.create_user(email="lk@example.com", password="x")
    pks = [
        p.pk
        for p in Project.objects.bulk_create(
            [Project(name=f"p{i}", owner=owner) for i in range(300)]
        )
    ]
    for pk in pks:  # first reads: L2 never has them
        Project.objects.get(pk=pk)
    counts = st.stats.snapshot()
    assert counts.get("l2.skipped", 0) > 100  # stopped asking L2 for what it never had
    assert counts.get("l2.misses", 0) > 0  # it measured first
    st.outbox.flush()  # every result is in L2 now
    st.l1.clear()  # as in another process that never read them
    with CaptureQueriesContext(connection) as ctx:
        for pk in pks:
            assert Project.objects.get(pk=pk).pk == pk
    after = st.stats.snapshot()
    hits = after.get("l2.hits", 0) - counts.get("l2.hits", 0)
    assert hits, (counts, after)
    assert hits > 200  # the first probe found L2 useful again, so misses look there
    assert len(ctx.captured_queries) == len(pks) - hits

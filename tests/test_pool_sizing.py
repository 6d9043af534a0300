"""Sizing advice from measured load, and resizing within the connection budget."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import override_settings

from django_dbopt.pool.sizing import Advice, advise, auto_resize, within_budget
from django_dbopt.pool.stats import pool_stats
from tests.pool_fixtures import pooled, pooled_alias  # noqa: F401

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "pooled"]),
    pytest.mark.usefixtures("pooled_alias"),
]


def _busy_requests(threads: int, each: int, hold_s: float) -> None:
    # All threads ask at the same moment each round, so with a full pool most must
    # queue, however the (shared, loaded) machine schedules them.
    start = threading.Barrier(threads)

    def work() -> None:
        for _ in range(each):
            start.wait(30)
            with connections["pooled"].cursor() as cursor:
                cursor.execute("SELECT pg_sleep(%s)", [hold_s])
            connections["pooled"].close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)


def test_no_checkouts_no_advice() -> None:
    with pooled(min_size=1, max_size=2) as wrapper:
        assert advise(pool_stats("pooled")).action == "no data"  # no pool yet
        wrapper.ensure_connection()
        wrapper.close()
        assert advise(pool_stats("pooled")).action == "keep"


def test_contended_pool_is_advised_to_grow() -> None:
    with pooled(min_size=1, max_size=1, timeout=10) as wrapper:
        wrapper.ensure_connection()
        wrapper.close()
        _busy_requests(threads=3, each=4, hold_s=0.02)
        advice = advise(pool_stats("pooled"))
    assert advice.action == "grow"
    assert advice.max_size == 2
    assert "waited" in advice.reasons[0]


def test_oversized_pool_is_advised_to_shrink() -> None:
    with pooled(min_size=4, max_size=4) as wrapper:
        wrapper.pool.open(wait=True, timeout=10)  # all four connected before measuring
        for _ in range(100):
            wrapper.ensure_connection()
            wrapper.close()
        advice = advise(pool_stats("pooled"))
    assert advice.action == "shrink"
    assert (advice.min_size, advice.max_size) == (1, 4)


def test_growth_is_capped_by_the_budget() -> None:
    advice = [Advice("a", "grow", 1, 6), Advice("b", "grow", 1, 6)]
    within_budget(advice, {"a": 4, "b": 4}, budget=10)
    assert [(a.action, a.max_size) for a in advice] == [("grow", 6), ("keep", 4)]
    assert "CONNECTION_BUDGET=10" in advice[1].reasons[-1]


def test_auto_resize_grows_within_the_budget() -> None:
    settings = {"POOL": {"AUTO_RESIZE": True, "CONNECTION_BUDGET": 2}}
    with override_settings(DBOPT=settings), pooled(min_size=1, max_size=1, timeout=10) as w:
        w.ensure_connection()
        w.close()
        auto_resize()  # the baseline interval
        _busy_requests(threads=3, each=4, hold_s=0.02)
        (advice,) = auto_resize()
        assert advice.action == "grow", advice.reasons
        assert w.pool.max_size == 2  # asked for 2; the budget allows 2 in total
        _busy_requests(threads=4, each=4, hold_s=0.02)
        (advice,) = auto_resize()
        assert w.pool.max_size == 2  # still waiting, but no room left in the budget
        assert "no room left" in advice.reasons[-1]

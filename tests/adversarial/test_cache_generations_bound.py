"""Attack: ``local_gens`` (the per-process map of table and tag generations) grew with
every tag ever bumped: 50,002 entries after 50,002 tags (issue 11, item 12). It is now
bounded; a generation dropped from it is unknown again, so the next read asks Redis
(a miss or a fresh hit), never a stale one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from django_dbopt.cache import cached, generations, invalidate_tags
from django_dbopt.cache.local_gens import MAX_LOCAL_GENS
from django_dbopt.cache.state import CacheState
from tests.cache_fixtures import caches_setting

pytestmark = pytest.mark.postgres

calls: list[int] = []


@cached(60, tags=["keep"])
def counted() -> int:
    calls.append(1)
    return len(calls)


@pytest.fixture
def st(services: Any) -> Iterator[CacheState]:
    with override_settings(CACHES=caches_setting("gensbound")):
        backend = caches["default"]
        assert backend.state.wait_l1()
        backend.clear()
        calls.clear()
        yield backend.state
        backend.clear()


def test_local_generations_stay_bounded_and_never_stale(st: CacheState) -> None:
    assert counted() == 1
    assert counted() == 1
    flood = [generations.tag_key(st, f"tag{i}") for i in range(50_002)]
    for start in range(0, len(flood), 5000):
        assert generations.bump(st, flood[start : start + 5000])
    assert len(st.local_gens) <= MAX_LOCAL_GENS
    assert generations.tag_key(st, "keep") not in st.local_gens  # the oldest went first
    assert counted() == 1  # unknown locally: read from Redis, still current
    invalidate_tags("keep")
    assert counted() == 2
    assert counted() == 2

"""Attack: a cache key holding NUL was never dropped from other processes' L1, yet the
write was acknowledged (issue 11, item 13). Invalidation messages used to be split on
NUL; they now frame each key with its length (``state.frame``). Two real processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings

from django_dbopt.cache.backend import TwoTierCache
from django_dbopt.cache.messages import frame, unframe
from tests.cache_fixtures import caches_setting, setup_child

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning"),
]

LOCATION = "nulkeys"
KEY = "user:1\x00profile"


def key_reader(db_name: str, conn: Any) -> None:
    """Hold an L1 lease; answer each ``"get"`` with (value, served from L1)."""
    import warnings

    from django.core.cache import caches as child_caches
    from django.core.cache.backends.base import CacheKeyWarning

    warnings.simplefilter("ignore", CacheKeyWarning)
    setup_child(db_name, {"L1_LEASE": 1.0}, LOCATION)
    cache = child_caches["default"]
    state = cache.state
    state.wait_l1(30)
    conn.send("ready")
    while conn.recv() == "get":
        before = state.stats.snapshot().get("l1.hits", 0)
        value = cache.get(KEY)
        conn.send((value, state.stats.snapshot().get("l1.hits", 0) > before))


@pytest.fixture
def cache(services: Any) -> Iterator[TwoTierCache]:
    with override_settings(CACHES=caches_setting(LOCATION, L1_LEASE=1.0)):
        backend = caches["default"]
        assert isinstance(backend, TwoTierCache)
        backend.clear()
        yield backend
        backend.clear()


@pytest.fixture
def reader(cache: TwoTierCache) -> Iterator[Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=key_reader, args=(connection.settings_dict["NAME"], child))
    proc.start()
    try:
        assert parent.poll(60), "the reader did not start"
        assert parent.recv() == "ready"
        yield parent
        parent.send("stop")
        proc.join(10)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()


def _get(reader: Any) -> tuple[Any, bool]:
    reader.send("get")
    assert reader.poll(30)
    value, from_l1 = reader.recv()
    return value, from_l1


def test_nul_key_is_invalidated_in_the_other_process(cache: TwoTierCache, reader: Any) -> None:
    cache.set(KEY, "old")
    assert _get(reader) == ("old", False)  # from Redis, now in its L1
    assert _get(reader) == ("old", True)
    cache.set(KEY, "new")  # returns once the other process acknowledged it
    assert _get(reader)[0] == "new"
    cache.delete(KEY)
    assert _get(reader)[0] is None


def test_frames_round_trip_any_character() -> None:
    items = ["a\x00b", "", "=:=", "é\x00\x00", "12:x"]
    assert [i.decode() for i in unframe(frame(items))] == items
    with pytest.raises(ValueError, match="truncated"):
        unframe(b"9:short")

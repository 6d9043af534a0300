"""The whole Django cache API on TwoTierCache, against the suite's real Redis.

Adapted from the important parts of Django's own backend tests (``tests/cache/tests.py``,
``BaseCacheTests``; BSD-3-Clause), run twice: with L1 in front (subscribed to the
invalidation channel) and with L1 off (every call reaches Redis).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterator

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.base import CacheKeyWarning
from django.test import override_settings

from django_dbopt.cache import TwoTierCache
from tests.cache_fixtures import caches_setting
from tests.waiting import wait_until

pytestmark = pytest.mark.postgres


def f() -> int:
    return 42


class C:
    def m(self) -> int:
        return 24


@pytest.fixture(params=["l1", "l2-only"])
def tt(request: pytest.FixtureRequest, services: object) -> Iterator[TwoTierCache]:
    options = {} if request.param == "l1" else {"L1_MAX_BYTES": 0}
    with override_settings(CACHES=caches_setting(**options)):
        backend = caches["default"]
        assert isinstance(backend, TwoTierCache)
        if request.param == "l1":
            assert backend.state.wait_l1(30)
        backend.clear()
        yield backend
        backend.clear()


def test_simple(tt: TwoTierCache) -> None:
    cache.set("key", "value")
    assert cache.get("key") == "value"


def test_default_used_when_none_is_set(tt: TwoTierCache) -> None:
    cache.set("key_default_none", None)
    assert cache.get("key_default_none", default="default") is None


def test_add(tt: TwoTierCache) -> None:
    assert cache.add("addkey1", "value") is True
    assert cache.add("addkey1", "newvalue") is False
    assert cache.get("addkey1") == "value"


def test_prefix(tt: TwoTierCache) -> None:
    cache.set("somekey", "value")
    assert caches["prefix"].has_key("somekey") is False
    caches["prefix"].set("somekey", "value2")
    assert cache.get("somekey") == "value"
    assert caches["prefix"].get("somekey") == "value2"


def test_non_existent(tt: TwoTierCache) -> None:
    assert cache.get("does_not_exist") is None
    assert cache.get("does_not_exist", "bang!") == "bang!"


def test_get_many(tt: TwoTierCache) -> None:
    cache.set_many({"a": "a", "b": "b", "c": "c", "d": "d"})
    assert cache.get_many(["a", "c", "d"]) == {"a": "a", "c": "c", "d": "d"}
    assert cache.get_many(["a", "b", "e"]) == {"a": "a", "b": "b"}
    assert cache.get_many(iter(["a", "b", "e"])) == {"a": "a", "b": "b"}
    cache.set_many({"x": None, "y": 1})
    assert cache.get_many(["x", "y"]) == {"x": None, "y": 1}


def test_delete(tt: TwoTierCache) -> None:
    cache.set_many({"key1": "spam", "key2": "eggs"})
    assert cache.get("key1") == "spam"
    assert cache.delete("key1") is True
    assert cache.get("key1") is None
    assert cache.get("key2") == "eggs"
    assert cache.delete("nonexistent_key") is False


def test_has_key_and_in(tt: TwoTierCache) -> None:
    cache.set("hello1", "goodbye1")
    assert cache.has_key("hello1") is True
    assert cache.has_key("goodbye1") is False
    cache.set("no_expiry", "here", None)
    assert cache.has_key("no_expiry") is True
    cache.set("null", None)
    assert cache.has_key("null") is True
    assert "null" in cache
    assert "goodbye1" not in cache


def test_incr_decr(tt: TwoTierCache) -> None:
    cache.set("answer", 41)
    assert cache.incr("answer") == 42
    assert cache.get("answer") == 42
    assert cache.incr("answer", 10) == 52
    assert cache.incr("answer", -10) == 42
    assert cache.decr("answer") == 41
    assert cache.decr("answer", -10) == 51
    with pytest.raises(ValueError, match="not found"):
        cache.incr("does_not_exist")
    with pytest.raises(ValueError, match="not found"):
        cache.decr("does_not_exist")
    cache.set("null", None)
    with pytest.raises(TypeError):
        cache.incr("null")


def test_data_types(tt: TwoTierCache) -> None:
    values = {
        "string": "this is a string",
        "int": 42,
        "negative": -7,
        "bool": True,
        "list": [1, 2, 3, 4],
        "tuple": (1, 2, 3, 4),
        "dict": {"A": 1, "B": 2},
        "function": f,
        "class": C,
        "bytes": zlib.compress(b"value_to_be_compressed"),
    }
    for key, value in values.items():
        cache.set(key, value)
        assert cache.get(key) == value
        assert type(cache.get(key)) is type(value)
    assert cache.add("binary-add", values["bytes"]) is True
    assert cache.get("binary-add") == values["bytes"]


def test_mutating_a_returned_value_does_not_change_the_cache(tt: TwoTierCache) -> None:
    cache.set("mutable", {"items": [1]})
    first = cache.get("mutable")
    first["items"].append(2)
    assert cache.get("mutable") == {"items": [1]}


def test_unicode(tt: TwoTierCache) -> None:
    stuff = {
        "ascii": "ascii_value",
        "unicode_ascii": "Iñtërnâtiônàlizætiøn1",
        "Iñtërnâtiônàlizætiøn": "Iñtërnâtiônàlizætiøn2",
        "ascii2": {"x": 1},
    }
    for key, value in stuff.items():
        cache.set(key, value)
        assert cache.get(key) == value
        assert cache.delete(key) is True
        assert cache.add(key, value) is True
        assert cache.get(key) == value
    cache.delete_many(stuff)
    cache.set_many(stuff)
    assert cache.get_many(stuff) == stuff


def test_set_many_and_delete_many(tt: TwoTierCache) -> None:
    assert cache.set_many({"key1": "spam", "key2": "eggs", "key3": "ham"}) == []
    assert cache.set_many({}) == []
    cache.delete_many(["key1", "key2"])
    assert cache.delete_many([]) is None
    assert cache.get("key1") is None
    assert cache.get("key3") == "ham"


def test_clear(tt: TwoTierCache) -> None:
    cache.set_many({"key1": "spam", "key2": "eggs"})
    cache.clear()
    assert cache.get("key1") is None
    assert cache.get("key2") is None


def test_expiration_and_touch(tt: TwoTierCache) -> None:
    cache.set("expire1", "very quickly", 1)
    cache.set("expire2", "very quickly", 1)
    cache.set("expire3", "very quickly", 1)
    cache.set("kept", "longer", 1)
    assert cache.touch("kept", timeout=60) is True
    cache.set_many({"many": 1}, 1)
    wait_until(lambda: cache.get("many") is None, 30, 0.05, what="a 1 s timeout to lapse")
    assert cache.get("expire1") is None
    assert cache.add("expire2", "newvalue") is True
    assert cache.get("expire2") == "newvalue"
    assert cache.has_key("expire3") is False
    assert cache.has_key("kept") is True
    assert cache.touch("nonexistent") is False


def test_forever_and_long_timeouts(tt: TwoTierCache) -> None:
    cache.set("key1", "eggs", None)
    assert cache.get("key1") == "eggs"
    assert cache.add("key2", "ham", None) is True
    assert cache.add("key1", "new eggs", None) is False
    cache.set_many({"key3": "sausage"}, None)
    assert cache.get("key3") == "sausage"
    cache.set("key5", "belgian fries", timeout=1)
    assert cache.touch("key5", timeout=None) is True
    assert tt.state.tier.client.pttl(tt.make_key("key5")) == -1
    cache.set("long", "eggs", 60 * 60 * 24 * 30 + 1)
    assert cache.get("long") == "eggs"
    cache.set("float", "spam", 100.2)
    assert cache.get("float") == "spam"


def test_zero_timeout(tt: TwoTierCache) -> None:
    cache.set("key1", "eggs", 0)
    assert cache.get("key1") is None
    assert cache.add("key2", "ham", 0) is True
    assert cache.get("key2") is None
    cache.set_many({"key3": "sausage", "key4": "lobster bisque"}, 0)
    assert cache.get("key3") is None
    cache.set("key5", "belgian fries", timeout=5)
    assert cache.touch("key5", timeout=0) is True
    assert cache.get("key5") is None


def test_versioning(tt: TwoTierCache) -> None:
    cache.set("answer1", 42)
    assert cache.get("answer1", version=1) == 42
    assert cache.get("answer1", version=2) is None
    assert caches["v2"].get("answer1") is None
    assert caches["v2"].get("answer1", version=1) == 42
    cache.set("answer2", 42, version=2)
    assert cache.get("answer2") is None
    assert caches["v2"].get("answer2") == 42
    assert cache.add("answer3", 37, version=2) is True
    assert cache.add("answer3", 38, version=2) is False
    assert caches["v2"].get("answer3") == 37
    cache.set("versioned", 1)
    assert cache.incr_version("versioned") == 2
    assert cache.get("versioned") is None
    assert cache.get("versioned", version=2) == 1
    assert cache.decr_version("versioned", version=2) == 1
    assert cache.get("versioned") == 1
    with pytest.raises(ValueError, match="not found"):
        cache.incr_version("does_not_exist")


def test_get_or_set(tt: TwoTierCache) -> None:
    assert cache.get_or_set("mykey", "default") == "default"
    assert cache.get_or_set("mykey", "other") == "default"
    assert cache.get_or_set("nothing", None) is None
    assert cache.get_or_set("callable", lambda: "computed") == "computed"
    assert cache.get_or_set("callable", lambda: "again") == "computed"


def test_invalid_keys_warn(tt: TwoTierCache) -> None:
    with pytest.warns(CacheKeyWarning, match="key with spaces"):
        cache.set("key with spaces", 1)
    with pytest.warns(CacheKeyWarning, match="longer than 250"):
        cache.get("a" * 251)


def test_async_api(tt: TwoTierCache) -> None:
    async def run() -> None:
        await cache.aset("akey", {"v": 1})
        assert await cache.aget("akey") == {"v": 1}
        assert await cache.aadd("akey", 2) is False
        assert await cache.ahas_key("akey") is True
        await cache.aset_many({"n": 1, "m": 2})
        assert await cache.aget_many(["n", "m"]) == {"n": 1, "m": 2}
        assert await cache.aincr("n", 5) == 6
        assert await cache.adecr("n") == 5
        assert await cache.atouch("n", 30) is True
        assert await cache.aget_or_set("new", "x") == "x"
        assert await cache.adelete("akey") is True
        await cache.adelete_many(["n", "m"])
        assert await cache.aget("n") is None
        await cache.aclear()
        assert await cache.aget("new") is None

    asyncio.run(run())


def test_another_instance_sees_writes_through_l2(tt: TwoTierCache) -> None:
    cache.set("shared", "one")
    other = TwoTierCache("other-namespace", {"OPTIONS": {"L2": "redis"}})
    assert other.get("shared") == "one"


def test_a_read_overtaken_by_a_write_does_not_fill_l1(tt: TwoTierCache) -> None:
    cache.set("raced", "old")
    key = tt.make_key("raced")
    stale = tt.state.codec.dumps("old")
    seq = tt.state.seq  # a read of "old" from Redis starts here...
    cache.set("raced", "new")  # ...another thread writes meanwhile...
    tt.state.l1.delete(key)
    tt._remember(key, stale, 60_000, seq)  # ...and the read ends: must not fill L1
    assert tt.state.l1.get(key) is None
    assert cache.get("raced") == "new"

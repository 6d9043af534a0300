"""Another OS process's write reaches this process's L1 through pub/sub, long before the
L1 TTL could have expired the old copy; the byte bound and the codec switch."""

from __future__ import annotations

import multiprocessing
import pickle
from typing import Any

import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.test import override_settings

from django_dbopt.cache.backend import TwoTierCache
from django_dbopt.cache.codec import RAW, ZLIB, ZSTD, CodecError, ValueCodec
from django_dbopt.cache.l1 import OVERHEAD, ByteLRU
from tests.cache_fixtures import caches_setting, coherence_child
from tests.waiting import wait_until


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_in_another_process_invalidates_l1(services: Any) -> None:
    with override_settings(CACHES=caches_setting(L1_TIMEOUT=300)):
        backend = caches["default"]
        assert isinstance(backend, TwoTierCache)
        assert backend.state.wait_l1(30)
        cache.set("shared", 0)
        ctx = multiprocessing.get_context("spawn")
        values, acks = ctx.Queue(), ctx.Queue()
        child = ctx.Process(
            target=coherence_child, args=(connection.settings_dict["NAME"], values, acks)
        )
        child.start()
        try:
            for value in (1, 2, 3):
                assert cache.get("shared") == value - 1
                assert backend.state.l1.get(backend.make_key("shared")) is not None
                values.put(value)
                assert acks.get(timeout=30) == value
                wait_until(lambda v=value: cache.get("shared") == v, 30, 0.001)
        finally:
            values.put(None)
            child.join(30)
        assert child.exitcode == 0


def test_l1_is_bounded_in_bytes_not_entries() -> None:
    l1 = ByteLRU(max_bytes=10_000, default_ttl=60)
    for i in range(100):
        l1.set(f"k{i}", b"x" * 500)
    assert l1.bytes_used <= 10_000
    assert len(l1) == 10_000 // (2 + 500 + OVERHEAD + 1)  # keys are 2-3 chars
    assert l1.get("k99") is not None  # most recent kept
    assert l1.get("k0") is None  # least recent evicted
    assert not l1.set("huge", b"x" * 20_000)  # bigger than the whole tier
    l1.get("k95")
    l1.set("new", b"y" * 500)
    assert l1.get("k95") is not None  # touched entries survive
    assert l1.evictions > 0


def test_l1_ttl_is_capped() -> None:
    now = [0.0]
    l1 = ByteLRU(max_bytes=10_000, default_ttl=5, clock=lambda: now[0])
    l1.set("short", b"1", ttl=1)
    l1.set("long", b"2", ttl=100)
    now[0] = 2
    assert l1.get("short") is None
    assert l1.get("long") == b"2"
    now[0] = 6
    assert l1.get("long") is None


def test_codec_switch_reads_values_written_with_another_codec() -> None:
    value = {"rows": ["the same text again"] * 2000}
    zstd = ValueCodec("zstd", compress_min_bytes=100)
    zlib_ = ValueCodec("zlib", compress_min_bytes=100)
    raw = ValueCodec("none")
    blobs = {ZSTD: zstd.dumps(value), ZLIB: zlib_.dumps(value), RAW: raw.dumps(value)}
    for header, blob in blobs.items():
        assert blob[0] == header
        for reader in (zstd, zlib_, raw):
            assert reader.loads(blob) == value
    assert len(blobs[ZSTD]) < len(blobs[RAW]) // 2
    small = zstd.dumps("tiny")
    assert small[0] == RAW  # below the threshold: not compressed
    assert zstd.loads(zstd.dumps(12)) == 12
    assert zstd.dumps(12) == b"12"  # integers stay INCR-able in Redis
    assert zstd.loads(zstd.dumps(True)) is True
    with pytest.raises(CodecError):
        zstd.loads(b"\xff" + pickle.dumps(1))
    with pytest.raises(CodecError):
        zstd.loads(bytes((ZLIB,)) + b"garbage")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_starts_clean_and_caches_on_its_own(services: Any) -> None:
    import os

    with override_settings(CACHES=caches_setting()):
        backend = caches["default"]
        assert backend.state.wait_l1(30)
        cache.set("before-fork", 1)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report, never return into pytest
            ok = False
            try:
                state = backend.state
                ok = (
                    len(state.l1) == 0
                    and not state.l1_on
                    and state.wait_l1(30)
                    and cache.get("before-fork") == 1
                    and state.l1.get(backend.make_key("before-fork")) is not None
                )
            finally:
                os.write(write, b"1" if ok else b"0")
                os._exit(0)
        os.close(write)
        assert os.read(read, 1) == b"1"
        os.waitpid(pid, 0)
        assert cache.get("before-fork") == 1


@pytest.mark.postgres
def test_switching_the_codec_keeps_reading_old_values(services: Any) -> None:
    big = {"rows": ["the same text again"] * 500}
    with override_settings(CACHES=caches_setting(CODEC="zlib", COMPRESS_MIN_BYTES=100)):
        cache.set("switch", big)
        raw = caches["redis"].client.get_client().get(caches["default"].make_key("switch"))
        assert raw[0] == ZLIB
    with override_settings(
        CACHES=caches_setting(CODEC="zstd", COMPRESS_MIN_BYTES=100, L1_MAX_BYTES=0)
    ):
        assert cache.get("switch") == big  # written with zlib, read after the switch
        cache.set("switch", big)
        raw = caches["redis"].client.get_client().get(caches["default"].make_key("switch"))
        assert raw[0] == ZSTD
    with override_settings(CACHES=caches_setting(CODEC="none", L1_MAX_BYTES=0)):
        assert cache.get("switch") == big

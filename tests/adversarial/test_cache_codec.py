"""Attacks on the values the cache reads back from Redis (issue 11, item 6).

Whoever can write to Redis chooses the bytes ``cache.get`` decodes. With the plain pickle
serializer that is code execution (as with django-redis's default: docs/cache.md,
"Trust model"); the ``"signed"`` serializer refuses a value whose HMAC does not verify
before anything is decompressed or unpickled. Independently of the serializer, a value
that would decompress past ``MAX_VALUE_BYTES`` is refused without being inflated.
"""

from __future__ import annotations

import os
import pickle
import resource
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from django.core.cache import caches
from django.test import override_settings

from django_dbopt.cache.backend import TwoTierCache
from django_dbopt.cache.codec import ValueCodec, ValueRefused, derive_key
from tests.cache_fixtures import caches_setting

pytestmark = pytest.mark.postgres


class _RunsCode:
    """Unpickling this runs a shell command (what a crafted value in Redis can do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _cache(**options: Any) -> Iterator[TwoTierCache]:
    with override_settings(CACHES=caches_setting("codec", **options)):
        backend = caches["default"]
        assert isinstance(backend, TwoTierCache)
        backend.clear()
        yield backend
        backend.clear()


@pytest.fixture
def signed(services: Any) -> Iterator[TwoTierCache]:
    yield from _cache(SERIALIZER="signed")


@pytest.fixture
def plain(services: Any) -> Iterator[TwoTierCache]:
    yield from _cache(MAX_VALUE_BYTES=16 * 1024 * 1024)


def _plant(backend: TwoTierCache, key: str, blob: bytes) -> None:
    """Write ``blob`` straight into Redis where ``key``'s value lives (the attacker)."""
    backend.state.tier.client.set(backend.make_and_validate_key(key), blob)
    backend.state.l1.clear()


def test_crafted_pickle_runs_no_code_under_the_signed_serializer(
    signed: TwoTierCache, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    _plant(signed, "profile", b"\xa0" + pickle.dumps(_RunsCode(marker)))
    assert signed.get("profile", "default") == "default"
    assert signed.get_many(["profile"]) == {}
    assert not marker.exists()
    assert signed.state.stats.snapshot()["l2.refused"] >= 2


def test_forged_and_tampered_signed_values_are_refused(
    signed: TwoTierCache, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    attacker = ValueCodec("none", keys=[derive_key("not the site's key")])
    _plant(signed, "forged", attacker.dumps(_RunsCode(marker)))
    assert signed.get("forged") is None
    signed.set("real", {"plan": "gold"})
    blob = bytearray(signed.state.tier.client.get(signed.make_and_validate_key("real")))
    assert blob[0] == 0xB0  # signed, raw pickle
    blob[-40] ^= 1  # flip one bit of the pickle
    _plant(signed, "real", bytes(blob))
    assert signed.get("real") is None
    signed.set("real", {"plan": "gold"})
    signed.state.l1.clear()
    assert signed.get("real") == {"plan": "gold"}  # a genuine value still reads
    assert not marker.exists()


@override_settings(SECRET_KEY="the new key", SECRET_KEY_FALLBACKS=["the old key"])
def test_values_signed_with_a_fallback_key_still_verify() -> None:
    old = ValueCodec("zlib", compress_min_bytes=10, keys=[derive_key("the old key")])
    new = ValueCodec("zlib", keys=[derive_key("the new key"), derive_key("the old key")])
    assert new.loads(old.dumps(["x"] * 100)) == ["x"] * 100
    with pytest.raises(ValueRefused):
        ValueCodec("zlib", keys=[derive_key("the new key")]).loads(old.dumps(["x"] * 100))


def _pickled_zeros_chunks(size: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The pickle of ``bytes(size)``, in chunks (never all in memory at once)."""
    yield b"\x80\x04\x8e" + struct.pack("<Q", size)
    zeros = bytes(chunk)
    for start in range(0, size, chunk):
        yield zeros[: min(chunk, size - start)]
    yield b"."


def _zlib_bomb(size: int) -> bytes:
    squeeze = zlib.compressobj(9)
    body = b"".join(squeeze.compress(c) for c in _pickled_zeros_chunks(size))
    return b"\xa1" + body + squeeze.flush()


def _zstd_bomb(size: int, *, state_size: bool) -> bytes:
    squeeze = zstandard.ZstdCompressor(level=3).compressobj(size=size + 12 if state_size else -1)
    body = b"".join(squeeze.compress(c) for c in _pickled_zeros_chunks(size))
    return b"\xa2" + body + squeeze.flush()


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


BOMB = 400 * 1024 * 1024  # decompresses to 400 MiB


@pytest.mark.parametrize("kind", ["zlib", "zstd-sized", "zstd-unsized"])
def test_compression_bomb_is_refused_without_inflating(plain: TwoTierCache, kind: str) -> None:
    if kind == "zlib":
        bomb = _zlib_bomb(BOMB)
    else:
        bomb = _zstd_bomb(BOMB, state_size=kind == "zstd-sized")
    assert len(bomb) < 512 * 1024
    _plant(plain, "bomb", bomb)
    before = _peak_rss_mib()
    assert plain.get("bomb", "miss") == "miss"
    assert _peak_rss_mib() - before < 64  # the cap is 16 MiB; inflating would add 400
    assert plain.state.stats.snapshot()["l2.refused"] >= 1


def test_values_under_the_cap_still_decode() -> None:
    codec = ValueCodec("zstd", compress_min_bytes=10, max_bytes=1 << 20)
    assert codec.loads(codec.dumps(b"\0" * 500_000)) == b"\0" * 500_000
    zlib_codec = ValueCodec("zlib", compress_min_bytes=10, max_bytes=1 << 20)
    assert zlib_codec.loads(zlib_codec.dumps("y" * 900_000)) == "y" * 900_000
    with pytest.raises(ValueRefused):
        ValueCodec("zlib", max_bytes=1 << 20).loads(zlib_codec.dumps(b"\0" * 2_000_000))

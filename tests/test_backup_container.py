"""The stored format: a round trip, and every kind of damage detected (no database)."""

from __future__ import annotations

import io
import os
import struct
from typing import Any

import pytest

from django_dbopt.backup.container import FRAME, MAGIC, Digests, read_plain
from django_dbopt.backup.errors import BackupCorrupt, WrongKey
from django_dbopt.backup.pipeline import write_stream
from tests.backup_fixtures import OTHER_KEY, backup_settings


class Sink:
    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> None:
        self.buffer.write(data)


@pytest.fixture
def keyed(settings: Any) -> None:
    settings.DBOPT = backup_settings(None)


PLAIN = b"".join(os.urandom(20000) + bytes([i]) * 20000 for i in range(40))


def seal(plain: bytes = PLAIN, chunk: int = 8192) -> tuple[bytes, Digests]:
    sink = Sink()
    digests = write_stream(io.BytesIO(plain), [sink], "b1", "k1", 3, chunk)
    return sink.buffer.getvalue(), digests


def unseal(stored: bytes, expect: Digests | None = None) -> bytes:
    return b"".join(read_plain(io.BytesIO(stored), Digests(), expect))


def frames(stored: bytes) -> tuple[bytes, list[bytes]]:
    """The header and each frame (flag, length and sealed bytes)."""
    (length,) = struct.unpack(">I", stored[len(MAGIC) : len(MAGIC) + 4])
    at = len(MAGIC) + 4 + length
    header, found = stored[:at], []
    while at < len(stored):
        _, size = FRAME.unpack(stored[at : at + FRAME.size])
        found.append(stored[at : at + FRAME.size + size])
        at += FRAME.size + size
    return header, found


@pytest.mark.usefixtures("keyed")
class TestRoundTrip:
    def test_plain_bytes_come_back_with_matching_digests(self) -> None:
        stored, digests = seal()
        got = Digests()
        assert b"".join(read_plain(io.BytesIO(stored), got, digests)) == PLAIN
        assert got.plain_sha256 == digests.plain_sha256
        assert got.stored_sha256 == digests.stored_sha256
        assert digests.stored_bytes == len(stored) < len(PLAIN)  # compressed
        assert digests.chunks > 3

    def test_empty_input_still_has_a_final_chunk(self) -> None:
        stored, digests = seal(b"")
        assert unseal(stored, digests) == b""
        assert digests.chunks == 1


@pytest.mark.usefixtures("keyed")
class TestDamage:
    def test_flipped_byte(self) -> None:
        stored, digests = seal()
        damaged = bytearray(stored)
        damaged[len(stored) // 2] ^= 0x40
        with pytest.raises(BackupCorrupt):
            unseal(bytes(damaged), digests)

    def test_truncated(self) -> None:
        stored, _ = seal()
        header, chunks = frames(stored)
        with pytest.raises(BackupCorrupt, match="truncated"):
            unseal(header + b"".join(chunks[:-1]))  # whole frames, final one missing
        with pytest.raises(BackupCorrupt, match="truncated"):
            unseal(stored[:-10])

    def test_reordered_chunks(self) -> None:
        stored, _ = seal()
        header, chunks = frames(stored)
        chunks[1], chunks[2] = chunks[2], chunks[1]
        with pytest.raises(BackupCorrupt, match="chunk 1 fails authentication"):
            unseal(header + b"".join(chunks))

    def test_final_flag_forged(self) -> None:
        stored, _ = seal()
        header, chunks = frames(stored)
        forged = bytes([1]) + chunks[0][1:]  # claim the first chunk was the last
        with pytest.raises(BackupCorrupt, match="authentication"):
            unseal(header + forged)

    def test_bytes_after_the_final_chunk(self) -> None:
        stored, _ = seal()
        with pytest.raises(BackupCorrupt, match="after its final chunk"):
            unseal(stored + b"x")

    def test_not_a_backup(self) -> None:
        with pytest.raises(BackupCorrupt, match="magic"):
            unseal(b"PGDMP" + b"\0" * 100)

    def test_wrong_key_under_the_same_id(self, settings: Any) -> None:
        stored, _ = seal()
        settings.DBOPT = {"BACKUP": {"ENCRYPTION_KEYS": {"k1": OTHER_KEY}}}
        with pytest.raises(WrongKey, match="does not open"):
            unseal(stored)

    def test_key_id_no_longer_configured(self, settings: Any) -> None:
        stored, _ = seal()
        settings.DBOPT = {"BACKUP": {"ENCRYPTION_KEYS": {"k2": OTHER_KEY}}}
        with pytest.raises(WrongKey, match="'k1', which is not in"):
            unseal(stored)

    def test_manifest_hash_mismatch(self) -> None:
        stored, digests = seal()
        digests.plain_sha256 = "0" * 64
        with pytest.raises(BackupCorrupt, match="plain_sha256"):
            unseal(stored, digests)


def test_reader_stage_failure_is_raised(settings: Any) -> None:
    settings.DBOPT = backup_settings(None)

    class Broken(io.RawIOBase):
        calls = 0

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 3:
                raise OSError("disk on fire")
            return b"x" * size

    with pytest.raises(OSError, match="disk on fire"):
        write_stream(Broken(), [Sink()], "b1", "k1", 3, 4096)  # type: ignore[arg-type]

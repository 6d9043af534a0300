"""The stored form of a backup: a header, then sealed chunks of zstandard-compressed data.

Layout::

    b"DBOPTBK1" | u32 header length | header (JSON) | frames...
    frame = u8 final flag | u32 sealed length | sealed chunk (AES-256-GCM, tag included)

The header names the master key id, carries the wrapped data key and the nonce prefix;
its SHA-256 is bound into every chunk (``crypto.py``). ``read_plain()`` yields the
decompressed bytes of a stored stream while checking everything: a flipped byte, a cut,
a reordered or missing chunk, a wrong key, extra bytes after the final chunk and hashes
that differ from the manifest all raise ``BackupCorrupt`` (or ``WrongKey``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from django_dbopt.backup import crypto
from django_dbopt.backup.errors import BackupCorrupt

MAGIC = b"DBOPTBK1"
FRAME = struct.Struct(">BI")
MAX_HEADER = 64 * 1024
MAX_CHUNK = 64 * 1024 * 1024


@dataclass
class Digests:
    """What went through a pipeline: sizes and SHA-256 of the plain and the stored bytes."""

    plain_bytes: int = 0
    plain_sha256: str = ""
    stored_bytes: int = 0
    stored_sha256: str = ""
    chunks: int = 0


def make_header(backup_id: str, key_id: str) -> tuple[bytes, bytes, bytes]:
    """The stored header, the data key and the nonce prefix for a new backup."""
    data_key = os.urandom(crypto.KEY_BYTES)
    prefix = os.urandom(4)
    wrapped = crypto.wrap(crypto.master_key(key_id), data_key, backup_id.encode())
    header = json.dumps(
        {
            "format": 1,
            "backup_id": backup_id,
            "key_id": key_id,
            "wrapped_key": base64.b64encode(wrapped).decode(),
            "nonce_prefix": base64.b64encode(prefix).decode(),
            "compression": "zstd",
        },
        sort_keys=True,
    ).encode()
    return MAGIC + struct.pack(">I", len(header)) + header, data_key, prefix


def frame(sealed: bytes, final: bool) -> bytes:
    return FRAME.pack(final, len(sealed)) + sealed


def _read_exact(stream: BinaryIO, size: int, what: str) -> bytes:
    parts = []
    left = size
    while left:
        part = stream.read(left)
        if not part:
            raise BackupCorrupt(f"the stored backup is truncated (in {what})")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class _Hashing:
    """Wraps a stream, hashing and counting what is read."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.sha = hashlib.sha256()
        self.count = 0

    def read(self, size: int) -> bytes:
        data = self.stream.read(size)
        self.sha.update(data)
        self.count += len(data)
        return data


def read_plain(
    stream: BinaryIO, digests: Digests, expect: Digests | None = None
) -> Iterator[bytes]:
    """Decrypt and decompress a stored stream, chunk by chunk, checking it all.

    ``digests`` is filled in as the stream is read; once the iterator is exhausted the
    whole stream was authentic and, if ``expect`` is given, matched its sizes and hashes.
    """
    source = _Hashing(stream)
    if _read_exact(source, len(MAGIC), "the header") != MAGIC:  # type: ignore[arg-type]
        raise BackupCorrupt("not a django-dbopt backup (bad magic bytes)")
    (length,) = struct.unpack(">I", _read_exact(source, 4, "the header"))  # type: ignore[arg-type]
    if length > MAX_HEADER:
        raise BackupCorrupt("the stored header is corrupt (impossible length)")
    raw = _read_exact(source, length, "the header")  # type: ignore[arg-type]
    try:
        header = json.loads(raw)
        key_id = str(header["key_id"])
        wrapped = base64.b64decode(header["wrapped_key"])
        prefix = base64.b64decode(header["nonce_prefix"])
        context = str(header["backup_id"]).encode()
    except (ValueError, KeyError, TypeError) as e:
        raise BackupCorrupt("the stored header is corrupt") from e
    data_key = crypto.unwrap(crypto.master_key(key_id), wrapped, context, key_id)
    full_header = MAGIC + struct.pack(">I", length) + raw
    opener = crypto.ChunkOpener(data_key, prefix, crypto.header_digest(full_header))
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    plain_sha = hashlib.sha256()
    while True:
        head = source.read(FRAME.size)
        if len(head) < FRAME.size:
            raise BackupCorrupt("the stored backup is truncated: it ends before its final chunk")
        final, size = FRAME.unpack(head)
        if final > 1 or size > MAX_CHUNK + crypto.TAG_BYTES:
            raise BackupCorrupt(f"chunk {opener.counter} has a corrupt frame header")
        chunk = opener.open(_read_exact(source, size, "a chunk"), bool(final))  # type: ignore[arg-type]
        try:
            plain = decompressor.decompress(chunk)
        except zstandard.ZstdError as e:
            raise BackupCorrupt(f"chunk {opener.counter - 1} does not decompress") from e
        if plain:
            plain_sha.update(plain)
            digests.plain_bytes += len(plain)
            yield plain
        if final:
            break
    if source.read(1):
        raise BackupCorrupt("the stored backup has bytes after its final chunk")
    if not decompressor.eof:
        raise BackupCorrupt("the compressed stream is incomplete")
    digests.chunks = opener.counter
    digests.plain_sha256 = plain_sha.hexdigest()
    digests.stored_bytes, digests.stored_sha256 = source.count, source.sha.hexdigest()
    if expect is not None:
        _compare(digests, expect)


def _compare(got: Digests, expect: Digests) -> None:
    for name in ("stored_bytes", "stored_sha256", "plain_bytes", "plain_sha256"):
        if getattr(got, name) != getattr(expect, name):
            raise BackupCorrupt(
                f"{name} is {getattr(got, name)!r}; the manifest says {getattr(expect, name)!r}"
            )

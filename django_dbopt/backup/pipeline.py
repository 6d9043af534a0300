"""The backup pipeline: plain bytes in, sealed compressed chunks out to every storage.

Three stages overlap, joined by small bounded queues (memory stays a few chunks, nothing
is spooled to disk): a reader thread reads the source (``pg_dump``'s stdout) and hashes
the plain bytes, a compressor thread runs zstandard (which releases the GIL), and the
calling thread seals each chunk, hashes the stored bytes and hands them to the writers.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Protocol

import zstandard

from django_dbopt.backup import crypto
from django_dbopt.backup.container import Digests, frame, make_header

#: queue depth between stages, in chunks
DEPTH = 4
_END = object()


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...


Progress = Callable[[int], None]


class _Stage(threading.Thread):
    """A pipeline thread that keeps its exception for the caller and stops on ``cancel``."""

    def __init__(self, target: Callable[[], None], name: str, cancel: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self._cancel = cancel
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as e:  # noqa: BLE001 - handed to the calling thread, re-raised
            self.error = e
            self._cancel.set()


def _put(q: queue.Queue[object], item: object, cancel: threading.Event) -> None:
    while not cancel.is_set():
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue[object], cancel: threading.Event) -> object:
    while not cancel.is_set():
        try:
            return q.get(timeout=0.2)
        except queue.Empty:
            continue
    return _END


def write_stream(
    source: IO[bytes],
    writers: Sequence[Writer],
    backup_id: str,
    key_id: str,
    level: int = 3,
    chunk_bytes: int = 1024 * 1024,
    progress: Progress | None = None,
) -> Digests:
    """Compress, encrypt and hash ``source`` into every writer. Returns the digests."""
    digests = Digests()
    plain_sha = hashlib.sha256()
    cancel = threading.Event()
    raw: queue.Queue[object] = queue.Queue(DEPTH)
    packed: queue.Queue[object] = queue.Queue(DEPTH)

    def read() -> None:
        while not cancel.is_set():
            block = source.read(chunk_bytes)
            if not block:
                break
            plain_sha.update(block)
            digests.plain_bytes += len(block)
            _put(raw, block, cancel)
        _put(raw, _END, cancel)

    def compress() -> None:
        compressor = zstandard.ZstdCompressor(level=level).compressobj()
        buffer = bytearray()
        while (block := _get(raw, cancel)) is not _END:
            buffer += compressor.compress(block)  # type: ignore[arg-type]
            while len(buffer) >= chunk_bytes:
                _put(packed, bytes(buffer[:chunk_bytes]), cancel)
                del buffer[:chunk_bytes]
        buffer += compressor.flush()
        _put(packed, bytes(buffer), cancel)
        _put(packed, _END, cancel)

    stages = [
        _Stage(read, "dbopt-backup-read", cancel),
        _Stage(compress, "dbopt-backup-zstd", cancel),
    ]
    for stage in stages:
        stage.start()
    try:
        _seal(packed, writers, backup_id, key_id, digests, cancel, progress)
    finally:
        cancel.set()
        for stage in stages:
            stage.join()
    for stage in stages:
        if stage.error is not None:
            raise stage.error
    digests.plain_sha256 = plain_sha.hexdigest()
    return digests


def _chunks(packed: queue.Queue[object], cancel: threading.Event) -> Iterator[tuple[bytes, bool]]:
    """Chunks with a one-chunk look-ahead, to know which one is final."""
    pending = _get(packed, cancel)
    while pending is not _END:
        following = _get(packed, cancel)
        if cancel.is_set():
            return  # a stage failed; the caller re-raises its error
        yield pending, following is _END  # type: ignore[misc]
        pending = following


def _seal(
    packed: queue.Queue[object],
    writers: Sequence[Writer],
    backup_id: str,
    key_id: str,
    digests: Digests,
    cancel: threading.Event,
    progress: Progress | None,
) -> None:
    header, data_key, prefix = make_header(backup_id, key_id)
    sealer = crypto.ChunkSealer(data_key, prefix, crypto.header_digest(header))
    stored_sha = hashlib.sha256(header)
    for writer in writers:
        writer.write(header)
    stored = len(header)
    for chunk, final in _chunks(packed, cancel):
        data = frame(sealer.seal(chunk, final), final)
        stored_sha.update(data)
        stored += len(data)
        for writer in writers:
            writer.write(data)
        if progress is not None:
            progress(digests.plain_bytes)
    if cancel.is_set():
        return  # a stage failed
    digests.chunks = sealer.counter
    digests.stored_bytes, digests.stored_sha256 = stored, stored_sha.hexdigest()

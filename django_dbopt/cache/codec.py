"""How values are turned into bytes and back, with a header byte naming the codec.

Every stored value (L1 and L2) is bytes, so a caller mutating what ``get()`` returned can
never change what the next caller gets. Layout:

- an ``int`` (not ``bool``) is stored as its ASCII decimal digits, so Redis ``INCRBY``
  works on it atomically (first byte ``0-9`` or ``-``);
- anything else is one header byte, then the pickled value, compressed when the pickle
  is at least ``compress_min_bytes`` long. The header names the codec:
  ``0xA0`` raw pickle, ``0xA1`` zlib, ``0xA2`` zstandard.

Decoding looks only at the header, so values written under one codec are still read
after the configured codec changes (or when zstandard is not installed, for zlib and raw
values).
"""

from __future__ import annotations

import pickle
import zlib
from typing import Any, Literal

from django_dbopt.exceptions import DbOptError

try:  # optional extra: django-dbopt[compression]
    import zstandard
except ImportError:  # pragma: no cover - exercised only without the extra
    zstandard = None  # type: ignore[assignment]

Codec = Literal["zstd", "zlib", "none"]

RAW = 0xA0
ZLIB = 0xA1
ZSTD = 0xA2
_HEADER = {"none": RAW, "zlib": ZLIB, "zstd": ZSTD}


class CodecError(DbOptError):
    """A stored value could not be decoded (unknown header, corrupt payload)."""


def available(codec: str) -> bool:
    return codec in ("zlib", "none") or (codec == "zstd" and zstandard is not None)


def effective_codec(wanted: str) -> Codec:
    """``wanted`` if it can be used here, else zlib (zstandard missing)."""
    if wanted == "zstd":
        return "zstd" if zstandard is not None else "zlib"
    return "zlib" if wanted == "zlib" else "none"


class ValueCodec:
    def __init__(self, codec: str = "zstd", compress_min_bytes: int = 1024, level: int = 3):
        self.codec: Codec = effective_codec(codec)
        self.compress_min_bytes = compress_min_bytes
        self.level = level
        self._zc = zstandard.ZstdCompressor(level=level) if zstandard is not None else None
        self._zd = zstandard.ZstdDecompressor() if zstandard is not None else None

    def dumps(self, value: Any) -> bytes:
        if type(value) is int:
            return str(value).encode()
        data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        if len(data) < self.compress_min_bytes or self.codec == "none":
            return bytes((RAW,)) + data
        if self.codec == "zstd" and self._zc is not None:
            return bytes((ZSTD,)) + self._zc.compress(data)
        return bytes((ZLIB,)) + zlib.compress(data, min(self.level, 9))

    def loads(self, blob: bytes) -> Any:
        if not blob:
            raise CodecError("empty value")
        head = blob[0]
        if head < 0x80:  # ASCII digits or '-': an int stored for INCRBY
            return int(blob)
        body = memoryview(blob)[1:]
        try:
            if head == RAW:
                return pickle.loads(body)  # noqa: S301  (our own cache's bytes)
            if head == ZLIB:
                return pickle.loads(zlib.decompress(body))  # noqa: S301
            if head == ZSTD:
                if self._zd is None:
                    raise CodecError("value compressed with zstandard, which is not installed")
                return pickle.loads(self._zd.decompress(body))  # noqa: S301
        except (zlib.error, pickle.UnpicklingError, EOFError) as e:
            raise CodecError(f"corrupt cached value: {e}") from e
        except Exception as e:
            if zstandard is not None and isinstance(e, zstandard.ZstdError):
                raise CodecError(f"corrupt cached value: {e}") from e
            raise
        raise CodecError(f"unknown codec header byte 0x{head:02x}")

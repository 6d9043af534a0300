"""How values are turned into bytes and back, with a header byte naming the codec.

Every stored value (L1 and L2) is bytes, so a caller mutating what ``get()`` returned can
never change what the next caller gets. Layout:

- an ``int`` (not ``bool``) is stored as its ASCII decimal digits, so Redis ``INCRBY``
  works on it atomically (first byte ``0-9`` or ``-``); digits are parsed with ``int()``,
  never unpickled;
- anything else is one header byte, then the pickled value, compressed when the pickle
  is at least ``compress_min_bytes`` long. The header names the codec:
  ``0xA0`` raw pickle, ``0xA1`` zlib, ``0xA2`` zstandard;
- with the ``"signed"`` serializer the header is ``0xB0``/``0xB1``/``0xB2`` and the value
  ends with an HMAC-SHA256 tag of everything before it, keyed from ``SIGNING_KEY`` (default:
  ``SECRET_KEY``; ``SECRET_KEY_FALLBACKS`` still verify). A value whose tag does not verify
  (or that is not signed at all) is refused *before* it is decompressed or unpickled.

Decompression is bounded: a value that would decompress to more than ``max_bytes`` is
refused (``ValueRefused``) without being inflated, whatever its header claims. Callers treat
every ``CodecError`` as a miss (counted as ``l2.refused``), never as a crash.

Decoding looks only at the header, so values written under one codec are still read
after the configured codec changes (or when zstandard is not installed, for zlib and raw
values). Trust model: docs/cache.md, "Trust model".
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
import threading
import zlib
from collections.abc import Sequence
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
#: added to the header of a signed value
SIGNED = 0x10
_HEADER = {"none": RAW, "zlib": ZLIB, "zstd": ZSTD}
SERIALIZERS = ("pickle", "signed")
#: bytes of the HMAC-SHA256 tag at the end of a signed value
TAG_BYTES = 32
#: default bound of a decoded value's pickle (``MAX_VALUE_BYTES``)
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_KEY_SALT = b"django_dbopt.cache.codec.signed"
#: what unpickling corrupt bytes, or a value of a class since renamed, raises
_UNPICKLING_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    ImportError,
    IndexError,
    KeyError,
)


class CodecError(DbOptError):
    """A stored value could not be decoded (unknown header, corrupt payload)."""


class ValueRefused(CodecError):
    """A stored value was refused: not signed, bad signature, or over the size bound."""


def available(codec: str) -> bool:
    return codec in ("zlib", "none") or (codec == "zstd" and zstandard is not None)


def effective_codec(wanted: str) -> Codec:
    """``wanted`` if it can be used here, else zlib (zstandard missing)."""
    if wanted == "zstd":
        return "zstd" if zstandard is not None else "zlib"
    return "zlib" if wanted == "zlib" else "none"


def derive_key(secret: str | bytes) -> bytes:
    """The HMAC key of signed values, derived from a secret (never the secret itself)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(_KEY_SALT + b"\0" + raw).digest()


class ValueCodec:
    def __init__(
        self,
        codec: str = "zstd",
        compress_min_bytes: int = 1024,
        level: int = 3,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keys: Sequence[bytes] = (),
    ):
        """``keys``: HMAC keys (``derive_key``) for the signed serializer, the first signs
        and every one verifies; empty: the plain pickle serializer."""
        self.codec: Codec = effective_codec(codec)
        self.compress_min_bytes = compress_min_bytes
        self.level = level
        self.max_bytes = max_bytes
        self._keys = tuple(keys)
        # python-zstandard's (de)compressor objects must not be used by two threads at
        # once (a threaded server got "Src size is incorrect" errors and segfaults): one
        # pair per thread, made on first use
        self._local = threading.local()

    @property
    def signed(self) -> bool:
        return bool(self._keys)

    def dumps(self, value: Any) -> bytes:
        if type(value) is int:
            return str(value).encode()
        data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        if len(data) < self.compress_min_bytes or self.codec == "none":
            head, body = RAW, data
        elif self.codec == "zstd" and zstandard is not None:
            head, body = ZSTD, self._compressor().compress(data)
        else:
            head, body = ZLIB, zlib.compress(data, min(self.level, 9))
        if not self._keys:
            return bytes((head,)) + body
        unsigned = bytes((head | SIGNED,)) + body
        return unsigned + hmac.digest(self._keys[0], unsigned, "sha256")

    def loads(self, blob: bytes) -> Any:
        """The value; raises ``CodecError`` (``ValueRefused`` for a refused one)."""
        if not blob:
            raise CodecError("empty value")
        head = blob[0]
        if head < 0x80:  # ASCII digits or '-': an int stored for INCRBY
            try:
                return int(blob)
            except ValueError as e:
                raise CodecError(f"corrupt cached integer: {e}") from e
        view = memoryview(blob)
        if head == RAW and not self._keys and len(blob) <= self.max_bytes:  # the common case
            try:
                return pickle.loads(view[1:])  # noqa: S301 (see the trust model)
            except _UNPICKLING_ERRORS as e:
                raise CodecError(f"cached value does not unpickle: {e!r}") from e
        if head & SIGNED:
            if len(blob) < 1 + TAG_BYTES:
                raise ValueRefused("signed value too short")
            body = view[1:-TAG_BYTES]
            if self._keys and not self._verified(view[:-TAG_BYTES], view[-TAG_BYTES:]):
                raise ValueRefused("cached value's signature does not verify")
            head &= ~SIGNED
        elif self._keys:
            raise ValueRefused("unsigned cached value refused by the signed serializer")
        else:
            body = view[1:]
        data = self._inflate(head, body)
        try:
            return pickle.loads(data)  # noqa: S301 (see the trust model)
        except _UNPICKLING_ERRORS as e:  # corrupt, or a class renamed since it was stored
            raise CodecError(f"cached value does not unpickle: {e!r}") from e

    def _verified(self, signed: memoryview, tag: memoryview) -> bool:
        return any(
            hmac.compare_digest(hmac.digest(key, signed, "sha256"), tag) for key in self._keys
        )

    def _inflate(self, head: int, body: memoryview) -> bytes | memoryview:
        """The pickle inside ``body``, decompressed at most to ``max_bytes``."""
        cap = self.max_bytes
        try:
            if head == RAW:
                data: bytes | memoryview = body
            elif head == ZLIB:
                inflater = zlib.decompressobj()
                data = inflater.decompress(body, cap + 1)
                if len(data) > cap or inflater.unconsumed_tail:
                    raise ValueRefused(f"cached value inflates past {cap} bytes")
                if not inflater.eof:
                    raise CodecError("truncated zlib value")
            elif head == ZSTD:
                data = self._unzstd(body, cap)
            else:
                raise CodecError(f"unknown codec header byte 0x{head:02x}")
        except zlib.error as e:
            raise CodecError(f"corrupt cached value: {e}") from e
        if len(data) > cap:
            raise ValueRefused(f"cached value is larger than {cap} bytes")
        return data

    def _compressor(self) -> Any:
        try:
            return self._local.zc
        except AttributeError:
            self._local.zc = zstandard.ZstdCompressor(level=self.level)
            return self._local.zc

    def _decompressor(self) -> Any:
        try:
            return self._local.zd
        except AttributeError:
            self._local.zd = zstandard.ZstdDecompressor()
            return self._local.zd

    def _unzstd(self, body: memoryview, cap: int) -> bytes:
        if zstandard is None:
            raise CodecError("value compressed with zstandard, which is not installed")
        try:
            # a frame that states its size is inflated to that size at once: check it first
            size = zstandard.frame_content_size(body)
            if size > cap:
                raise ValueRefused(f"cached value inflates past {cap} bytes")
            return self._decompressor().decompress(body, max_output_size=cap)  # type: ignore[no-any-return]
        except zstandard.ZstdError as e:
            raise CodecError(f"corrupt or oversized cached value: {e}") from e

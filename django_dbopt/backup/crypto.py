"""Keys and chunked AES-256-GCM.

Each backup gets a fresh random 256-bit data key, wrapped (AES-GCM) by a master key from
``DBOPT["BACKUP"]["ENCRYPTION_KEYS"]``; the stored header names the master key's id, so
keys can be rotated: old ids stay listed to read old backups.

The data is cut into chunks, each sealed on its own. A chunk's nonce is a random 4-byte
prefix (per backup) and its 8-byte counter; its additional data binds the header's hash,
the counter and a final-chunk flag. Reordered chunks (counter), a truncated stream (no
final chunk), extra chunks after the final one, a changed header or a wrong key all fail
authentication.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from django_dbopt.backup.errors import BackupCorrupt, BackupError, WrongKey
from django_dbopt.conf import get_config

KEY_BYTES = 32
TAG_BYTES = 16
_WRAP_AAD = b"django-dbopt backup data key v1|"


def decode_key(key_id: str, value: str) -> bytes:
    """A master key from its setting value (base64, or ``env:NAME``)."""
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise BackupError(f"encryption key {key_id!r}: environment variable {name} is unset")
        value = os.environ[name]
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise BackupError(f"encryption key {key_id!r} is not valid base64") from e
    if len(key) != KEY_BYTES:
        raise BackupError(f"encryption key {key_id!r} is {len(key)} bytes; it must be 32")
    return key


def current_key_id() -> str:
    config = get_config().backup
    if config.encryption_key_id:
        return config.encryption_key_id
    keys = list(config.encryption_keys)
    if len(keys) != 1:
        raise BackupError(
            "no encryption key: set DBOPT['BACKUP']['ENCRYPTION_KEYS'] (and ENCRYPTION_KEY_ID "
            "when there are several); see docs/backups.md"
        )
    return keys[0]


def master_key(key_id: str) -> bytes:
    keys = get_config().backup.encryption_keys
    if key_id not in keys:
        raise WrongKey(
            f"the backup was encrypted with key id {key_id!r}, which is not in "
            "DBOPT['BACKUP']['ENCRYPTION_KEYS']"
        )
    return decode_key(key_id, keys[key_id])


def wrap(master: bytes, data_key: bytes, context: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(master).encrypt(nonce, data_key, _WRAP_AAD + context)


def unwrap(master: bytes, wrapped: bytes, context: bytes, key_id: str) -> bytes:
    try:
        return AESGCM(master).decrypt(wrapped[:12], wrapped[12:], _WRAP_AAD + context)
    except InvalidTag as e:
        raise WrongKey(
            f"key id {key_id!r} does not open this backup: the key was changed, or the "
            "backup's header is corrupt"
        ) from e


def _aad(header_hash: bytes, counter: int, final: bool) -> bytes:
    return header_hash + struct.pack(">QB", counter, final)


class ChunkSealer:
    def __init__(self, data_key: bytes, prefix: bytes, header_hash: bytes) -> None:
        self._aead = AESGCM(data_key)
        self._prefix = prefix
        self._header_hash = header_hash
        self.counter = 0

    def seal(self, plain: bytes, final: bool) -> bytes:
        nonce = self._prefix + struct.pack(">Q", self.counter)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._header_hash, self.counter, final))
        self.counter += 1
        return sealed


class ChunkOpener:
    def __init__(self, data_key: bytes, prefix: bytes, header_hash: bytes) -> None:
        self._aead = AESGCM(data_key)
        self._prefix = prefix
        self._header_hash = header_hash
        self.counter = 0

    def open(self, sealed: bytes, final: bool) -> bytes:
        nonce = self._prefix + struct.pack(">Q", self.counter)
        try:
            plain = self._aead.decrypt(nonce, sealed, _aad(self._header_hash, self.counter, final))
        except InvalidTag as e:
            raise BackupCorrupt(
                f"chunk {self.counter} fails authentication: the stored bytes were changed, "
                "reordered or cut"
            ) from e
        self.counter += 1
        return plain


def header_digest(header: bytes) -> bytes:
    return hashlib.sha256(header).digest()

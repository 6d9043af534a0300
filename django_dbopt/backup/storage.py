"""Where backups live: a local folder and/or S3 (``s3.py``), several at once.

A backup is a folder (or key prefix) named by its id holding ``data`` (the stored
stream), ``manifest.json`` (written last: a backup without one does not exist) and,
once verified, ``verification.json``. Writers write to a temporary name and publish on
``commit()``; ``abort()`` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO, Protocol

from django_dbopt.backup.errors import BackupError
from django_dbopt.conf import get_config

DATA = "data"
MANIFEST = "manifest.json"
VERIFICATION = "verification.json"


class ObjectWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class Storage(Protocol):
    name: str

    def writer(self, backup_id: str, name: str) -> ObjectWriter: ...
    def reader(self, backup_id: str, name: str) -> BinaryIO: ...
    def put(self, backup_id: str, name: str, data: bytes) -> None: ...
    def get(self, backup_id: str, name: str) -> bytes | None: ...
    def backup_ids(self) -> list[str]: ...
    def delete(self, backup_id: str) -> None: ...


class _LocalWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.file = self.partial.open("wb")

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self.partial.replace(self.path)

    def abort(self) -> None:
        self.file.close()
        self.partial.unlink(missing_ok=True)


class LocalStorage:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.name = f"local:{self.root}"

    def _folder(self, backup_id: str) -> Path:
        if "/" in backup_id or backup_id.startswith("."):
            raise BackupError(f"invalid backup id {backup_id!r}")
        return self.root / backup_id

    def writer(self, backup_id: str, name: str) -> _LocalWriter:
        folder = self._folder(backup_id)
        folder.mkdir(parents=True, exist_ok=True)
        return _LocalWriter(folder / name)

    def reader(self, backup_id: str, name: str) -> BinaryIO:
        try:
            return (self._folder(backup_id) / name).open("rb")
        except FileNotFoundError as e:
            raise BackupError(f"{self.name}: {backup_id}/{name} is missing") from e

    def put(self, backup_id: str, name: str, data: bytes) -> None:
        writer = self.writer(backup_id, name)
        writer.write(data)
        writer.commit()

    def get(self, backup_id: str, name: str) -> bytes | None:
        with contextlib.suppress(FileNotFoundError):
            return (self._folder(backup_id) / name).read_bytes()
        return None

    def backup_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def delete(self, backup_id: str) -> None:
        shutil.rmtree(self._folder(backup_id), ignore_errors=True)


def configured_storages() -> list[Storage]:
    """The storages ``DBOPT["BACKUP"]`` names, local first."""
    config = get_config().backup
    found: list[Storage] = []
    if config.location:
        found.append(LocalStorage(config.location))
    if config.s3_bucket:
        from django_dbopt.backup.s3 import S3Storage

        found.append(
            S3Storage(
                config.s3_bucket,
                config.s3_prefix,
                region=config.s3_region,
                endpoint_url=config.s3_endpoint_url,
            )
        )
    if not found:
        raise BackupError(
            "no backup storage: set DBOPT['BACKUP']['LOCATION'] and/or ['S3_BUCKET']"
        )
    return found

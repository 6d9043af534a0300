"""Backup test helpers: keys, settings, a moto S3 server, a throwaway SQLite project."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()


def backup_settings(location: Path | None, **extra: Any) -> dict[str, Any]:
    return {
        "BACKUP": {
            "LOCATION": str(location) if location else None,
            "ENCRYPTION_KEYS": {"k1": KEY},
            **extra,
        }
    }


@pytest.fixture
def backup_dir(tmp_path: Path, settings: Any) -> Path:
    """Backups go to a fresh folder, encrypted with key ``k1``."""
    folder = tmp_path / "backups"
    settings.DBOPT = backup_settings(folder)
    return folder


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free port (real HTTP, the boto3 path talks to it)."""
    from moto.server import ThreadedMotoServer

    from tests.services import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint).create_bucket(Bucket=name)


def data_file(folder: Path, backup_id: str) -> Path:
    return folder / backup_id / "data"


def flip_byte(path: Path, offset_from_end: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) - offset_from_end] ^= 0x01
    path.write_bytes(bytes(data))

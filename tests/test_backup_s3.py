"""Backups to S3 (moto's server over real HTTP, boto3 multipart) and to a folder at once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from django_dbopt.backup import postgres
from django_dbopt.backup.catalog import list_backups
from django_dbopt.backup.create import create_backup
from django_dbopt.backup.restore import restore_backup
from django_dbopt.backup.s3 import S3Storage
from django_dbopt.backup.storage import MANIFEST
from django_dbopt.backup.verify import verify_backup
from tests.backup_fixtures import backup_settings, make_bucket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def both(tmp_path: Path, settings: Any, s3_endpoint: str) -> Path:
    bucket = f"dbopt-{os.urandom(4).hex()}"
    make_bucket(s3_endpoint, bucket)
    folder = tmp_path / "backups"
    settings.DBOPT = backup_settings(
        folder, S3_BUCKET=bucket, S3_PREFIX="site/db", S3_REGION="us-east-1",
        S3_ENDPOINT_URL=s3_endpoint,
    )  # fmt: skip
    return folder


@pytest.fixture
def blob_table() -> Any:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE backup_blob (id serial PRIMARY KEY, payload bytea)")
        for _ in range(12):  # ~12 MiB that does not compress: several multipart parts
            cursor.execute("INSERT INTO backup_blob (payload) VALUES (%s)", [os.urandom(1 << 20)])
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE backup_blob")


@pytest.mark.usefixtures("blob_table")
def test_backup_to_folder_and_s3_then_restore_from_s3(both: Path, settings: Any) -> None:
    manifest = create_backup("default")
    assert manifest.stored_bytes > 10 * (1 << 20)
    (entry,) = list_backups("default")
    assert len(entry.storages) == 2
    assert entry.storages[1].startswith("s3://")
    assert entry.verified
    config = settings.DBOPT["BACKUP"]
    s3 = S3Storage(config["S3_BUCKET"], "site/db", "us-east-1", config["S3_ENDPOINT_URL"])
    assert s3.get(manifest.backup_id, MANIFEST) is not None
    head = s3.client.head_object(Bucket=s3.bucket, Key=f"site/db/{manifest.backup_id}/data")
    assert head["ContentLength"] == manifest.stored_bytes
    assert "-" in head["ETag"]  # a multipart upload's ETag

    shutil.rmtree(both / manifest.backup_id)  # only the S3 copy is left
    assert verify_backup(manifest.backup_id).ok
    result = restore_backup(manifest.backup_id, "default")
    try:
        found = postgres.counts_in("default", result.target, ["public.backup_blob"])
        assert found == {"public.backup_blob": 12}
    finally:
        postgres.drop_database("default", result.target)


def test_s3_damage_is_detected(both: Path, settings: Any) -> None:
    manifest = create_backup("default", verify=False)
    config = settings.DBOPT["BACKUP"]
    s3 = S3Storage(config["S3_BUCKET"], "site/db", "us-east-1", config["S3_ENDPOINT_URL"])
    key = f"site/db/{manifest.backup_id}/data"
    body = bytearray(s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read())
    body[-50] ^= 0x10
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=bytes(body))
    result = verify_backup(manifest.backup_id)
    assert not result.ok
    assert result.error is not None
    assert "s3://" in result.error
    assert "local:" not in result.error  # the folder's copy is intact


def test_restore_falls_back_to_an_intact_copy(both: Path) -> None:
    manifest = create_backup("default", verify=False)
    path = both / manifest.backup_id / "data"
    path.write_bytes(path.read_bytes()[:-7])  # the folder's copy is cut short
    result = restore_backup(manifest.backup_id, "default")  # the S3 copy is intact
    try:
        assert result.rows == sum(manifest.row_counts().values())
    finally:
        postgres.drop_database("default", result.target)

"""S3 storage (boto3; multipart uploads, streamed downloads). Needs the ``s3`` extra.

Bucket, prefix, region and endpoint come from ``DBOPT["BACKUP"]``; credentials from
boto3's usual chain (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile, an
instance role). Errors are raised as ``BackupError`` naming the bucket and key.
"""

from __future__ import annotations

from typing import Any, BinaryIO, cast

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from django_dbopt.backup.errors import BackupError

#: multipart part size (S3 wants >= 5 MiB for every part but the last)
PART_BYTES = 8 * 1024 * 1024


class _MultipartWriter:
    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        self.buffer = bytearray()
        self.parts: list[dict[str, Any]] = []
        self.upload_id: str | None = None

    def _upload(self) -> None:
        if self.upload_id is None:
            made = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)
            self.upload_id = made["UploadId"]
        number = len(self.parts) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=bytes(self.buffer),
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self.buffer.clear()

    def write(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= PART_BYTES:
            with _errors(self.bucket, self.key):
                self._upload()

    def commit(self) -> None:
        with _errors(self.bucket, self.key):
            if self.upload_id is None:  # small: one plain PUT
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer))
                return
            self._upload()
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )

    def abort(self) -> None:
        if self.upload_id is not None:
            with _errors(self.bucket, self.key):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
                )


class _errors:
    """Turns boto3's errors into ``BackupError``."""

    def __init__(self, bucket: str, key: str) -> None:
        self.where = f"s3://{bucket}/{key}"

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        if isinstance(error, (BotoCoreError, ClientError)):
            raise BackupError(f"{self.where}: {error}") from error


class S3Storage:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        region: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.name = f"s3://{bucket}/{self.prefix}"
        self.client = boto3.client("s3", region_name=region, endpoint_url=endpoint_url)

    def _key(self, backup_id: str, name: str) -> str:
        if "/" in backup_id:
            raise BackupError(f"invalid backup id {backup_id!r}")
        return f"{self.prefix}{backup_id}/{name}"

    def writer(self, backup_id: str, name: str) -> _MultipartWriter:
        return _MultipartWriter(self.client, self.bucket, self._key(backup_id, name))

    def reader(self, backup_id: str, name: str) -> BinaryIO:
        key = self._key(backup_id, name)
        with _errors(self.bucket, key):
            return cast("BinaryIO", self.client.get_object(Bucket=self.bucket, Key=key)["Body"])

    def put(self, backup_id: str, name: str, data: bytes) -> None:
        key = self._key(backup_id, name)
        with _errors(self.bucket, key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, backup_id: str, name: str) -> bytes | None:
        key = self._key(backup_id, name)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            return cast("bytes", body.read())
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise BackupError(f"s3://{self.bucket}/{key}: {e}") from e
        except BotoCoreError as e:
            raise BackupError(f"s3://{self.bucket}/{key}: {e}") from e

    def backup_ids(self) -> list[str]:
        found: list[str] = []
        with _errors(self.bucket, self.prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
            )
            for page in pages:
                for entry in page.get("CommonPrefixes", []):
                    found.append(entry["Prefix"][len(self.prefix) :].rstrip("/"))
        return sorted(found)

    def delete(self, backup_id: str) -> None:
        prefix = self._key(backup_id, "")
        with _errors(self.bucket, prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

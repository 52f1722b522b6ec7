"""Multipart uploads and copies for the S3 blob store (``corral.blobs.s3``).

Invariants: an object written in parts exists only after ``CompleteMultipartUpload`` (S3 shows no partial
object); an upload that fails or is cancelled is aborted (shielded from the cancellation), and one whose process
died is aborted by ``collect`` once older than its cutoff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

SINGLE_COPY_LIMIT = 5 * 1024**3  # CopyObject's own limit; larger objects are copied in parts
COPY_PART_SIZE = 1024**3


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_missing(exc: ClientError) -> bool:
    return error_code(exc) in {"404", "NoSuchKey", "NotFound"}


class Multipart:
    """One multipart upload to ``key``: ``part`` in order, then ``complete``; ``abort`` on any failure."""

    def __init__(self, client: S3Client, bucket: str, key: str, upload_id: str) -> None:
        self.client, self.bucket, self.key, self.upload_id = client, bucket, key, upload_id
        self.parts: list[CompletedPartTypeDef] = []

    @classmethod
    async def start(cls, client: S3Client, bucket: str, key: str) -> Multipart:
        created = await client.create_multipart_upload(Bucket=bucket, Key=key)
        return cls(client, bucket, key, created["UploadId"])

    async def part(self, body: bytes) -> None:
        number = len(self.parts) + 1
        done = await self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        self.parts.append({"PartNumber": number, "ETag": done["ETag"]})

    async def copy_part(self, source: str, first: int, last: int) -> None:
        number = len(self.parts) + 1
        done = await self.client.upload_part_copy(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            CopySource={"Bucket": self.bucket, "Key": source},
            CopySourceRange=f"bytes={first}-{last}",
        )
        self.parts.append({"PartNumber": number, "ETag": done["CopyPartResult"].get("ETag", "")})

    async def complete(self) -> None:
        await self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    async def abort(self) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            except ClientError as exc:
                if not is_missing(exc) and error_code(exc) != "NoSuchUpload":
                    raise


async def copy_object(
    client: S3Client,
    bucket: str,
    source: str,
    target: str,
    size: int,
    *,
    single_limit: int = SINGLE_COPY_LIMIT,
    part_size: int = COPY_PART_SIZE,
) -> None:
    """Server-side copy (no byte passes through us): one ``CopyObject`` up to ``single_limit``, parts above."""
    if size <= single_limit:
        await client.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source})
        return
    upload = await Multipart.start(client, bucket, target)
    try:
        for first in range(0, size, part_size):
            await upload.copy_part(source, first, min(first + part_size, size) - 1)
        await upload.complete()
    except BaseException:
        await upload.abort()
        raise

"""The blob store on any S3-compatible object store (aiobotocore: botocore's signing and models, on asyncio).

Keys under the configured prefix: ``sha256/<hex>`` each blob, ``tmp/<uuid>`` the large puts in flight,
``leases/<hex>/<uuid>`` one empty object per finished ``put`` (its age is the blob's age for ``collect``),
``collecting/<hex>`` while a collection deletes that blob.

Invariants:

* **Never partial.** A blob that fits in one part (``part_size``) is hashed in memory and written to its key in
  one ``PutObject``; a larger one is uploaded in parts to a ``tmp/`` key (invisible until complete), then
  copied server-side to its key. Either way the key shows all the bytes or none. Memory: one part.
* **Never lost to a collection.** ``put`` writes its lease, *then* looks for the blob's ``collecting/`` marker;
  ``collect`` writes the marker, *then* lists the blob's leases and deletes only if none is young. S3 is
  strongly consistent, so (as in Dekker's mutual exclusion) at least one side sees the other: either the
  collection sees the young lease and keeps the blob, or the put sees the marker, waits for it to go and
  writes the blob again.
* Times are the object store's, to the second: keep ``older_than`` well above a second (hours, in practice).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from corral.blobs.base import BlobInfo, BlobRef, Digest, LiveRefs, digest_of, effective_limit, not_found
from corral.blobs.s3_parts import COPY_PART_SIZE, SINGLE_COPY_LIMIT, Multipart, copy_object, is_missing
from corral.errors import ConfigError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

PART_SIZE = 8 * 1024 * 1024  # S3's smallest part is 5 MiB (except the last)
READ_CHUNK = 1024 * 1024
STALE_MARKER_SECONDS = 300.0  # a `collecting/` marker this old belongs to a collection that died
MARKER_POLL_SECONDS = 0.05


class S3BlobStore:
    """A ``BlobStore`` in ``bucket`` under ``prefix`` (``""`` or ending in ``/``); the client is the caller's."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        max_bytes: int | None = None,
        part_size: int = PART_SIZE,
        single_copy_limit: int = SINGLE_COPY_LIMIT,
        copy_part_size: int = COPY_PART_SIZE,
    ) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.max_bytes, self.part_size = max_bytes, part_size
        self.single_copy_limit, self.copy_part_size = single_copy_limit, copy_part_size

    def _key(self, hexd: str) -> str:
        return f"{self.prefix}sha256/{hexd}"

    async def put(self, chunks: AsyncIterable[bytes], *, limit: int | None = None) -> BlobRef:
        digest = Digest(effective_limit(limit, self.max_bytes))
        part = _Part()
        upload: Multipart | None = None
        try:
            async for chunk in chunks:
                digest.feed(chunk)
                part.add(chunk)
                if part.size >= self.part_size:
                    upload = upload or await Multipart.start(self.client, self.bucket, self._tmp_key())
                    await upload.part(part.take())
            if upload is None:
                body = part.take()
                await self._publish(digest.hex, lambda: self._write(digest.hex, body))
                return digest.ref
            if part.size:
                await upload.part(part.take())
            await upload.complete()
        except BaseException:
            if upload is not None:
                await upload.abort()
            raise
        try:
            tmp, size = upload.key, digest.size
            await self._publish(digest.hex, lambda: self._copy(tmp, self._key(digest.hex), size))
        finally:
            with anyio.CancelScope(shield=True):
                await self.client.delete_object(Bucket=self.bucket, Key=upload.key)
        return digest.ref

    def _tmp_key(self) -> str:
        return f"{self.prefix}tmp/{uuid.uuid4().hex}"

    async def _write(self, hexd: str, body: bytes) -> None:
        await self.client.put_object(Bucket=self.bucket, Key=self._key(hexd), Body=body)

    async def _copy(self, source: str, target: str, size: int) -> None:
        await copy_object(
            self.client,
            self.bucket,
            source,
            target,
            size,
            single_limit=self.single_copy_limit,
            part_size=self.copy_part_size,
        )

    async def _publish(self, hexd: str, write: Callable[[], Awaitable[None]]) -> None:
        """Lease first, then the marker check (see the module docstring), then the blob unless already there."""
        await self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}leases/{hexd}/{uuid.uuid4().hex}", Body=b"")
        contended = await self._wait_out_collection(hexd)
        if contended or not await self._head(self._key(hexd)):
            await write()

    async def _wait_out_collection(self, hexd: str) -> bool:
        """Whether a collection of this blob was under way (then it may have deleted it: write it again)."""
        contended = False
        while (marker := await self._head(f"{self.prefix}collecting/{hexd}")) is not None:
            if time.time() - marker[1] > STALE_MARKER_SECONDS:
                return True
            contended = True
            await anyio.sleep(MARKER_POLL_SECONDS)  # a remote state, not ours to be signalled: the marker goes soon
        return contended

    async def _head(self, key: str) -> tuple[int, float] | None:
        """``(size, modified)`` of an object, None when there is none."""
        try:
            found = await self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        return found["ContentLength"], found["LastModified"].timestamp()

    @asynccontextmanager
    async def open(
        self, ref: BlobRef, *, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[AsyncIterator[bytes]]:
        key = self._key(digest_of(ref))
        found = await self._head(key)
        if found is None:
            raise not_found(ref)
        last = found[0] if end is None else min(end, found[0])
        if last <= start:
            yield _nothing()
            return
        try:
            answer = await self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{last - 1}")
        except ClientError as exc:
            if is_missing(exc):
                raise not_found(ref) from None
            raise
        async with answer["Body"] as body:
            yield body.iter_chunks(READ_CHUNK)

    async def stat(self, ref: BlobRef) -> BlobInfo:
        found = await self._head(self._key(digest_of(ref)))
        if found is None:
            raise not_found(ref)
        return BlobInfo(ref, found[0], found[1])

    async def exists(self, ref: BlobRef) -> bool:
        return await self._head(self._key(digest_of(ref))) is not None

    async def delete(self, ref: BlobRef) -> bool:
        key = self._key(digest_of(ref))
        there = await self._head(key) is not None
        await self.client.delete_object(Bucket=self.bucket, Key=key)
        return there

    async def collect(self, live: LiveRefs, *, older_than: float) -> int:
        cutoff = time.time() - older_than  # fixed before asking for the live set (see corral.blobs.base)
        keep = {digest_of(ref) async for ref in live()}
        young: set[str] = set()
        async for key, modified in self._list("leases/"):
            if modified > cutoff:
                young.add(key.rsplit("/", 2)[-2])
            else:
                await self.client.delete_object(Bucket=self.bucket, Key=key)
        removed = 0
        async for key, modified in self._list("sha256/"):
            hexd = key.rsplit("/", 1)[-1]
            if hexd not in keep and hexd not in young and modified <= cutoff and await self._collect_one(hexd, cutoff):
                removed += 1
        await self._sweep_tmp(cutoff)
        return removed

    async def _collect_one(self, hexd: str, cutoff: float) -> bool:
        marker = f"{self.prefix}collecting/{hexd}"
        await self.client.put_object(Bucket=self.bucket, Key=marker, Body=b"")
        try:
            async for _, modified in self._list(f"leases/{hexd}/"):
                if modified > cutoff:
                    return False
            await self.client.delete_object(Bucket=self.bucket, Key=self._key(hexd))
            return True
        finally:
            with anyio.CancelScope(shield=True):
                await self.client.delete_object(Bucket=self.bucket, Key=marker)

    async def _sweep_tmp(self, cutoff: float) -> None:
        """Leftovers of puts that died: temporary objects and multipart uploads begun before the cutoff."""
        async for key, modified in self._list("tmp/"):
            if modified <= cutoff:
                await self.client.delete_object(Bucket=self.bucket, Key=key)
        uploads = await self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=f"{self.prefix}tmp/")
        for upload in uploads.get("Uploads", []):
            if _seconds(upload.get("Initiated")) <= cutoff:
                await Multipart(self.client, self.bucket, upload.get("Key", ""), upload.get("UploadId", "")).abort()

    async def _list(self, under: str) -> AsyncIterator[tuple[str, float]]:
        """``(key, modified)`` of every object under ``prefix + under``, page by page."""
        token: str | None = None
        while True:
            if token is None:
                page = await self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + under)
            else:
                page = await self.client.list_objects_v2(
                    Bucket=self.bucket, Prefix=self.prefix + under, ContinuationToken=token
                )
            for item in page.get("Contents", []):
                yield item.get("Key", ""), _seconds(item.get("LastModified"))
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    async def aclose(self) -> None:
        return None


class _Part:
    """The chunks of one part, joined once when it goes out (no growing buffer copied at each chunk)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk)

    def take(self) -> bytes:
        body = b"".join(self.chunks)
        self.chunks, self.size = [], 0
        return body


def _seconds(moment: datetime | None) -> float:
    """POSIX seconds of a listed time; a missing one counts as young (never collected on a guess)."""
    return float("inf") if moment is None else moment.timestamp()


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → ``(bucket, "prefix/")``; ``ConfigError`` for anything else."""
    parsed = urlsplit(url)
    if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
        raise ConfigError(f"CORRAL_BLOB_URL={url!r}: expected s3://bucket or s3://bucket/prefix")
    prefix = parsed.path.strip("/")
    return parsed.netloc, f"{prefix}/" if prefix else ""


@asynccontextmanager
async def open_s3_blob_store(
    url: str, *, endpoint_url: str | None = None, max_bytes: int | None = None
) -> AsyncGenerator[S3BlobStore]:
    """An ``S3BlobStore`` for ``s3://bucket/prefix`` with its own client (closed on exit). Region and credentials
    come from botocore's standard chain (``AWS_*`` variables, profiles, instance roles)."""
    bucket, prefix = parse_s3_url(url)
    config = AioConfig(tcp_keepalive=True, retries={"max_attempts": 4, "mode": "standard"})
    async with get_session().create_client("s3", endpoint_url=endpoint_url or None, config=config) as made:
        client: S3Client = made  # the lite stubs type every client as Any; this one is S3's
        yield S3BlobStore(client, bucket, prefix, max_bytes=max_bytes)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""

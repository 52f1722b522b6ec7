"""``FileStore`` on the real engines and a local blob store: what the API cannot reach without waiting an hour
(expiry, by a clock the store is given) or without a setting (input-only uploads), and the bytes ``collect``
may remove (deleted and expired files' blobs, unless a live file holds the same bytes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corral.blobs.local import LocalBlobStore
from corral.db import Database
from corral.errors import BlobTooLarge, ErrorCode, InvalidRequest, NotFound
from corral.files import FileStore, Upload

pytestmark = pytest.mark.anyio
WORKSPACE = "wrkspc_test"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def add(files: FileStore, data: bytes, expires: int | None = None) -> str:
    stored = await files.put(chunks(data))
    return (await files.create(WORKSPACE, Upload("a.txt", "text/plain", expires), stored)).id


async def read(files: FileStore, file_id: str) -> bytes:
    _, opener = await files.content(WORKSPACE, file_id)
    async with opener as body:
        return b"".join([chunk async for chunk in body])


async def test_an_expired_file_is_404_file_expired_and_its_blob_collectable(database: Database, tmp_path: Path) -> None:
    clock = Clock()
    blobs = LocalBlobStore(tmp_path / "blobs")
    files = FileStore(database, blobs, clock=clock)
    soon = await add(files, b"soon", expires=3600)
    assert await read(files, soon) == b"soon"
    clock.now += timedelta(seconds=3600)
    with pytest.raises(NotFound) as expired:
        await read(files, soon)
    assert expired.value.code == ErrorCode.FILE_EXPIRED
    assert (await files.get(WORKSPACE, soon)).expires_at == "2026-01-01T01:00:00.000000Z"  # metadata stays
    assert [ref async for ref in files.live_refs()] == []
    assert await blobs.collect(files.live_refs, older_than=0) == 1


async def test_deleted_files_blobs_go_unless_another_file_holds_the_bytes(database: Database, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    files = FileStore(database, blobs)
    first, second, alone = await add(files, b"same"), await add(files, b"same"), await add(files, b"alone")
    shared = (await files.get(WORKSPACE, first)).blob_ref
    await files.delete(WORKSPACE, first)
    await files.delete(WORKSPACE, alone)
    assert await blobs.collect(files.live_refs, older_than=0) == 1  # "alone" went; "same" is still second's
    assert await blobs.exists(shared) and await read(files, second) == b"same"


async def test_input_only_uploads_refuse_download(database: Database, tmp_path: Path) -> None:
    files = FileStore(database, LocalBlobStore(tmp_path / "blobs"), uploads_downloadable=False)
    file_id = await add(files, b"input")
    assert (await files.get(WORKSPACE, file_id)).wire()["downloadable"] is False
    with pytest.raises(InvalidRequest) as refused:
        await files.content(WORKSPACE, file_id)
    assert refused.value.code == ErrorCode.FILE_NOT_DOWNLOADABLE and refused.value.status == 400


async def test_put_stops_at_the_limit_keeping_nothing(database: Database, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    files = FileStore(database, blobs, max_bytes=8)
    with pytest.raises(BlobTooLarge):
        await files.put(chunks(b"12345", b"67890"))
    assert [path for path in (tmp_path / "blobs").rglob("*") if path.is_file() and path.parent.name != "locks"] == []

"""``FileStore``: file metadata rows on any ``Database`` engine, their bytes in a ``BlobStore``.

An upload is two steps so that a multipart body can be read once, in order: ``put`` streams the bytes into the
blob store (refused with a 413 as soon as they pass ``max_bytes``, keeping nothing), then ``create`` commits the
row that names them, right away (within the blob store's collection grace, as its rule asks). If the request
fails between the two, the blob is an orphan and ``collect`` removes it.

Every verb takes the caller's ``workspace_id`` and sees only that workspace's files. Reading bytes (``content``)
refuses a file that is not ``downloadable`` (400 ``file_not_downloadable``) or whose ``expires_at`` has passed
(404 ``file_expired``) before touching the blob store.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from corral.blobs import BlobRef, BlobStore
from corral.db import Database
from corral.db.pages import cursor_from
from corral.errors import ErrorCode, InvalidRequest, NotFound
from corral.files import _rows, names
from corral.files.names import Upload
from corral.files.records import FileRecord
from corral.ids import is_id, new_id, now, rfc3339
from corral.paging import Page

MAX_IDS = 100


@dataclass(frozen=True)
class Stored:
    """Bytes the blob store holds for an upload in progress."""

    ref: BlobRef
    size: int


def _file_id(file_id: str) -> str:
    if not is_id("file", file_id):
        raise _rows.missing(file_id)
    return file_id


class FileStore:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        max_bytes: int | None = None,
        uploads_downloadable: bool = True,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.max_bytes = max_bytes
        self.uploads_downloadable = uploads_downloadable
        self.clock = clock

    async def put(self, chunks: AsyncIterable[bytes]) -> Stored:
        """Stream an upload's bytes into the blob store; ``BlobTooLarge`` (413) past ``max_bytes``."""
        size = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in chunks:
                size += len(chunk)
                yield chunk

        ref = await self.blobs.put(counted(), limit=self.max_bytes)
        return Stored(ref, size)

    async def create(self, workspace_id: str, upload: Upload, stored: Stored) -> FileRecord:
        """The row of an upload whose bytes ``put`` stored."""
        filename = names.filename(upload.filename, upload.content_type)
        created = self.clock()
        expires = upload.expires_in_seconds
        record = FileRecord(
            id=new_id("file"),
            workspace_id=workspace_id,
            blob_ref=stored.ref,
            filename=filename,
            mime_type=names.mime_type(filename, upload.content_type),
            size_bytes=stored.size,
            downloadable=self.uploads_downloadable,
            scope_id=None,
            created_at=rfc3339(created),
            expires_at=None if expires is None else rfc3339(created + timedelta(seconds=expires)),
        )
        return await self.db.write(_rows.insert, record)

    async def create_output(self, workspace_id: str, session_id: str, name: str, stored: Stored) -> FileRecord:
        """The row of a file a session left in its outputs directory, whose bytes ``put`` stored: named by its path
        relative to that directory (``names.output_name``), downloadable, scoped to the session, never expiring."""
        filename = names.output_name(name)
        record = FileRecord(
            id=new_id("file"),
            workspace_id=workspace_id,
            blob_ref=stored.ref,
            filename=filename,
            mime_type=names.mime_type(filename, None),
            size_bytes=stored.size,
            downloadable=True,
            scope_id=session_id,
            created_at=rfc3339(self.clock()),
            expires_at=None,
        )
        return await self.db.write(_rows.insert, record)

    async def get(self, workspace_id: str, file_id: str) -> FileRecord:
        return await self.db.read(_rows.get, _file_id(file_id), workspace_id)

    async def delete(self, workspace_id: str, file_id: str) -> None:
        """Remove the row; its blob is left to ``collect`` (another file may hold the same bytes)."""
        await self.db.write(_rows.delete, _file_id(file_id), workspace_id)

    async def list(
        self, workspace_id: str, *, ids: list[str] | None, scope_id: str | None, limit: int | None, page: str | None
    ) -> Page:
        """Newest first; ``ids`` (at most 100, exclusive with ``page`` and ``limit``) answers one page of those
        ids the workspace holds. A cursor serves only the list (``scope_id``) that made it."""
        if ids is not None:
            if page or limit is not None:
                raise InvalidRequest("ids[] cannot be combined with page or limit")
            wanted = list(dict.fromkeys(ids))
            if not wanted or len(wanted) > MAX_IDS:
                raise InvalidRequest(f"ids[]: give 1 to {MAX_IDS} distinct file ids, got {len(wanted)}")
            known = [file_id for file_id in wanted if is_id("file", file_id)]
            if not known:
                return Page([], None)
            return await self.db.read(_rows.by_ids, workspace_id, scope_id, known)
        scope = _rows.SCOPE if scope_id is None else f"{_rows.SCOPE}:{scope_id}"
        cursor = cursor_from(page, scope)
        return await self.db.read(_rows.page, workspace_id, scope_id, 20 if limit is None else limit, cursor, scope)

    async def content(
        self, workspace_id: str, file_id: str
    ) -> tuple[FileRecord, AbstractAsyncContextManager[AsyncIterator[bytes]]]:
        """The file and its bytes to open (``async with``), once it is known to be downloadable, unexpired and
        present in the blob store."""
        record = await self.get(workspace_id, file_id)
        if not record.downloadable:
            raise InvalidRequest(
                f"file {file_id} is not downloadable: uploaded files are input only on this server",
                code=ErrorCode.FILE_NOT_DOWNLOADABLE,
            )
        if record.expired(rfc3339(self.clock())):
            raise NotFound(f"file {file_id} expired at {record.expires_at}", code=ErrorCode.FILE_EXPIRED)
        await self.blobs.stat(record.blob_ref)
        return record, self.blobs.open(record.blob_ref)

    async def live_refs(self) -> AsyncIterator[BlobRef]:
        """Every blob a file that has not expired names (a ``LiveRefs`` for ``BlobStore.collect``)."""
        for ref in await self.db.read(_rows.live, rfc3339(self.clock())):
            yield ref

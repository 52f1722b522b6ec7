"""File rows as flows that run on either engine.

Invariants: every read names the workspace, so another workspace's file is a 404 like a missing one; a list is
newest first by ``(created_at, id)`` and pages by keyset (``corral.db.pages``); ``live`` is every blob a file
that has not expired at the given instant names.
"""

from __future__ import annotations

from corral.blobs import BlobRef
from corral.db import Flow, Row, Where, all_rows, exec_, one
from corral.db.pages import newest_first
from corral.errors import NotFound
from corral.files.records import FILE_COLUMNS, FileRecord
from corral.paging import Cursor, Page

SCOPE = "files"


def missing(file_id: str) -> NotFound:
    return NotFound(f"file {file_id} not found")


def get(file_id: str, workspace_id: str) -> Flow[FileRecord]:
    row = yield one(f"SELECT {FILE_COLUMNS} FROM files WHERE id = $1", file_id)
    if row is None or row["workspace_id"] != workspace_id:
        raise missing(file_id)
    return FileRecord.from_row(row)


def insert(record: FileRecord) -> Flow[FileRecord]:
    yield exec_(
        f"INSERT INTO files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        record.id,
        record.workspace_id,
        record.blob_ref,
        record.filename,
        record.mime_type,
        record.size_bytes,
        1 if record.downloadable else 0,
        record.scope_id,
        record.created_at,
        record.expires_at,
    )
    return record


def delete(file_id: str, workspace_id: str) -> Flow[None]:
    yield from get(file_id, workspace_id)
    yield exec_("DELETE FROM files WHERE id = $1", file_id)
    return None


def page(workspace_id: str, scope_id: str | None, limit: int, cursor: Cursor | None, scope: str) -> Flow[Page]:
    where = Where().equals("workspace_id", workspace_id)
    if scope_id is not None:
        where.equals("scope_id", scope_id)
    return (yield from newest_first("files", FILE_COLUMNS, where, limit, cursor, scope, FileRecord.from_row))


def by_ids(workspace_id: str, scope_id: str | None, file_ids: list[str]) -> Flow[Page]:
    """The files of ``file_ids`` the workspace holds (others silently left out), newest first, one page."""
    where = Where().equals("workspace_id", workspace_id).one_of("id", file_ids)
    if scope_id is not None:
        where.equals("scope_id", scope_id)
    rows: list[Row] = yield all_rows(
        f"SELECT {FILE_COLUMNS} FROM files WHERE {where} ORDER BY created_at DESC, id DESC", *where.args
    )
    return Page([FileRecord.from_row(row) for row in rows], None)


def live(at: str) -> Flow[list[BlobRef]]:
    rows: list[Row] = yield all_rows(
        "SELECT DISTINCT blob_ref FROM files WHERE expires_at IS NULL OR expires_at > $1", at
    )
    return [BlobRef(str(row["blob_ref"])) for row in rows]

"""``/v1/files`` (api.md §13): upload (multipart, streamed into the blob store), list, metadata, download, delete.

Invariants: an upload's ``file`` part goes to the blob store chunk by chunk as it arrives (``corral.api.multipart``)
and is refused with a 413 as soon as it passes the size limit, leaving nothing stored; the row is committed only
after every byte is stored. A download streams the blob; every refusal (another workspace's id, not downloadable,
expired) is answered before the first byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from corral.api.http import JSONBytes, PageToken, context, json_response, page_json
from corral.api.multipart import Event, Part, form_events, part_data, part_text
from corral.api.routes.common import ERRORS
from corral.api.wire import BetaDeletedFile, BetaFileMetadata, FilePage
from corral.errors import InvalidRequest
from corral.files import FileStore, Upload
from corral.files import names as file_names
from corral.files.store import Stored

router = APIRouter(prefix="/v1/files", tags=["files"], responses=ERRORS)
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "expires_in_seconds": {"type": "integer", "minimum": 3600, "maximum": 7776000},
                    },
                }
            }
        },
    }
}


async def _read_upload(files: FileStore, events: AsyncIterator[Event]) -> tuple[Upload, Stored]:
    """The form's ``file`` part stored, and its metadata. ``purpose`` (which the hosted API's docs send beside the
    file, api.md §13) is read and means nothing here; any other field is a 400 naming it."""
    stored: Stored | None = None
    part: Part | None = None
    expires: int | None = None
    async for event in events:
        if not isinstance(event, Part):
            raise InvalidRequest("malformed multipart body")
        if event.name == "file":
            if stored is not None:
                raise InvalidRequest("file: send exactly one file part")
            stored, part = await files.put(part_data(events)), event
        elif event.name == "expires_in_seconds":
            expires = file_names.expires_in_seconds(await part_text(events, event.name))
        elif event.name == "purpose":
            await part_text(events, event.name)
        else:
            raise InvalidRequest(f"{event.name}: not a field of a file upload (file, expires_in_seconds, purpose)")
    if stored is None or part is None:
        raise InvalidRequest("file: a multipart part named file is required")
    return Upload(part.filename, part.content_type, expires), stored


@router.post("", response_model=BetaFileMetadata, summary="Upload a file", openapi_extra=UPLOAD_BODY)
async def upload_file(request: Request) -> JSONBytes:
    services, workspace = context(request)
    upload, stored = await _read_upload(services.files, form_events(request))
    return json_response((await services.files.create(workspace, upload, stored)).wire())


@router.get("", response_model=FilePage, summary="List files, newest first")
async def list_files(
    request: Request,
    ids: Annotated[list[str] | None, Query(alias="ids[]", description="At most 100 file ids; one page.")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Maximum results per page (default 20).")] = None,
    page: PageToken = None,
    scope_id: Annotated[str | None, Query(description="Only files of this scope (a session id).")] = None,
) -> JSONBytes:
    services, workspace = context(request)
    result = await services.files.list(workspace, ids=ids, scope_id=scope_id, limit=limit, page=page)
    return page_json(result, [record.wire() for record in result.items])


@router.get("/{file_id}", response_model=BetaFileMetadata, summary="Retrieve a file's metadata")
async def retrieve_file(request: Request, file_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.files.get(workspace, file_id)).wire())


@router.get(
    "/{file_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes"}},
    summary="Download a file's bytes",
)
async def download_file(request: Request, file_id: str) -> StreamingResponse:
    services, workspace = context(request)
    record, opener = await services.files.content(workspace, file_id)

    async def body() -> AsyncIterator[bytes]:
        async with opener as chunks:
            async for chunk in chunks:
                yield chunk

    headers = {"content-length": str(record.size_bytes)}
    return StreamingResponse(body(), media_type=record.mime_type, headers=headers)


@router.delete("/{file_id}", response_model=BetaDeletedFile, summary="Delete a file")
async def delete_file(request: Request, file_id: str) -> JSONBytes:
    services, workspace = context(request)
    await services.files.delete(workspace, file_id)
    return json_response({"id": file_id, "type": "file_deleted"})

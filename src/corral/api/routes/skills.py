"""``/v1/skills`` (api.md §14): create (multipart ``files[]``, zipped as it arrives), list, retrieve, delete, and
the versions: create, list, retrieve (``latest`` too), delete, download as zip.

Invariants: every ``files[]`` part streams into the upload's archive (``corral.skills.archive``) chunk by chunk,
refused with a 413 as soon as the files pass the size limit and with a 400 naming the rule an upload breaks;
nothing is stored until the whole upload is checked. A download streams the blob; every refusal (another
workspace's id, an Anthropic-provided skill, a missing version) is answered before the first byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from corral.api.http import JSONBytes, PageToken, context, json_response, page_json
from corral.api.multipart import Event, Part, form_events, part_data, part_text
from corral.api.routes.common import ERRORS
from corral.api.wire import (
    BetaDeletedSkill,
    BetaDeletedSkillVersion,
    BetaSkill,
    BetaSkillVersion,
    SkillPage,
    SkillVersionPage,
)
from corral.errors import InvalidRequest
from corral.skills.archive import Builder

router = APIRouter(prefix="/v1/skills", tags=["skills"], responses=ERRORS)
FILE_FIELDS = ("files[]", "files")


def _upload_body(display_name: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "files[]": {"type": "array", "items": {"type": "string", "format": "binary"}},
    }
    if display_name:
        properties["display_name"] = {"type": "string", "maxLength": 255}
    schema = {"type": "object", "required": ["files[]"], "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def _is_zip(part: Part) -> bool:
    """A whole skill sent as one zip: a bare ``<name>.zip`` (a ``.zip`` inside a directory is just a file)."""
    name = part.filename or ""
    return "/" not in name and name.lower().endswith(".zip")


async def _read_upload(upload: Builder, events: AsyncIterator[Event]) -> str | None:
    """Every ``files[]`` part into the archive; the ``display_name`` field, when sent. Other fields are ignored."""
    display_name: str | None = None
    async for event in events:
        if not isinstance(event, Part):
            raise InvalidRequest("malformed multipart body")
        if event.name in FILE_FIELDS:
            chunks = part_data(events)
            await (upload.add_zip(chunks) if _is_zip(event) else upload.add(event.filename, chunks))
        elif event.name == "display_name":
            display_name = await part_text(events, event.name)
        else:
            await part_text(events, event.name)
    return display_name


@router.post("", response_model=BetaSkill, summary="Create a skill", openapi_extra=_upload_body(True))
async def create_skill(request: Request) -> JSONBytes:
    services, workspace = context(request)
    async with services.skills.builder() as upload:
        display_name = await _read_upload(upload, form_events(request))
        return json_response((await services.skills.create(workspace, display_name, upload)).wire())


@router.get("", response_model=SkillPage, summary="List skills, newest first")
async def list_skills(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Maximum results per page (default 20).")] = None,
    page: PageToken = None,
    source: Annotated[str | None, Query(description="custom or anthropic (none here).")] = None,
) -> JSONBytes:
    services, workspace = context(request)
    result = await services.skills.list(workspace, source=source, limit=limit, page=page)
    return page_json(result, [record.wire() for record in result.items])


@router.get("/{skill_id}", response_model=BetaSkill, summary="Retrieve a skill")
async def retrieve_skill(request: Request, skill_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.skills.get(workspace, skill_id)).wire())


@router.delete("/{skill_id}", response_model=BetaDeletedSkill, summary="Delete a skill and its versions")
async def delete_skill(request: Request, skill_id: str) -> JSONBytes:
    services, workspace = context(request)
    await services.skills.delete(workspace, skill_id)
    return json_response({"id": skill_id, "type": "skill_deleted"})


@router.post(
    "/{skill_id}/versions",
    response_model=BetaSkillVersion,
    summary="Create a skill version",
    openapi_extra=_upload_body(False),
)
async def create_version(request: Request, skill_id: str) -> JSONBytes:
    services, workspace = context(request)
    await services.skills.get(workspace, skill_id)  # a 404 before the body is read
    async with services.skills.builder() as upload:
        await _read_upload(upload, form_events(request))
        return json_response((await services.skills.add_version(workspace, skill_id, upload)).wire())


@router.get("/{skill_id}/versions", response_model=SkillVersionPage, summary="List a skill's versions, newest first")
async def list_versions(
    request: Request,
    skill_id: str,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Maximum results per page (default 20).")] = None,
    page: PageToken = None,
) -> JSONBytes:
    services, workspace = context(request)
    result = await services.skills.versions(workspace, skill_id, limit=limit, page=page)
    return page_json(result, [record.wire() for record in result.items])


@router.get("/{skill_id}/versions/{version}", response_model=BetaSkillVersion, summary="Retrieve a skill version")
async def retrieve_version(request: Request, skill_id: str, version: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.skills.version(workspace, skill_id, version)).wire())


@router.delete(
    "/{skill_id}/versions/{version}", response_model=BetaDeletedSkillVersion, summary="Delete a skill version"
)
async def delete_version(request: Request, skill_id: str, version: str) -> JSONBytes:
    services, workspace = context(request)
    deleted = await services.skills.delete_version(workspace, skill_id, version)
    return json_response({"id": deleted, "type": "skill_version_deleted"})


@router.get(
    "/{skill_id}/versions/{version}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The version's files as a zip archive"}},
    summary="Download a skill version as a zip archive",
)
async def download_version(request: Request, skill_id: str, version: str) -> StreamingResponse:
    services, workspace = context(request)
    record, opener = await services.skills.content(workspace, skill_id, version)

    async def body() -> AsyncIterator[bytes]:
        async with opener as chunks:
            async for chunk in chunks:
                yield chunk

    headers = {
        "content-length": str(record.size_bytes),
        "content-disposition": f'attachment; filename="{record.name}.zip"',
    }
    return StreamingResponse(body(), media_type="application/zip", headers=headers)

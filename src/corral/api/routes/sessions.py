"""``/v1/sessions``: create, retrieve, update, list (bidirectional pages), archive, delete (api.md §5)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from corral.api.http import (
    IncludeArchived,
    JSONBytes,
    Limit100,
    PageToken,
    Timestamp,
    check_id,
    context,
    json_response,
    stamp,
)
from corral.api.routes.common import ERRORS
from corral.api.schemas.sessions import SessionCreate, SessionUpdate
from corral.api.session_ops import create_session, session_changes
from corral.api.session_wire import session_wire
from corral.api.wire import BetaManagedAgentsDeletedSession, BetaManagedAgentsSession, SessionPage
from corral.errors import InvalidRequest
from corral.paging import Cursor, decode_cursor
from corral.session import SessionFilter, SessionRecord
from corral.vault import resource_tokens

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], responses=ERRORS)

Status = Literal["rescheduling", "running", "idle", "terminated"]


def _sid(session_id: str) -> str:
    return check_id("session", session_id, "session")


@router.post("", response_model=BetaManagedAgentsSession, summary="Create a session")
async def create(request: Request, body: SessionCreate) -> JSONBytes:
    services, workspace = context(request)
    record, _ = await create_session(services, workspace, body)
    return json_response(session_wire(record))


@router.get("/{session_id}", response_model=BetaManagedAgentsSession, summary="Retrieve a session")
async def retrieve(request: Request, session_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response(session_wire(await services.sessions.get_session(_sid(session_id), workspace)))


@router.post("/{session_id}", response_model=BetaManagedAgentsSession, summary="Update a session")
async def update(request: Request, session_id: str, body: SessionUpdate) -> JSONBytes:
    services, workspace = context(request)
    record = await services.sessions.get_session(_sid(session_id), workspace)
    changes = await session_changes(services, record, body)
    if changes:
        record = await services.sessions.update_session(record.id, workspace, changes)
    return json_response(session_wire(record))


def _pages(records: list[SessionRecord], more: bool, cursor: Cursor | None, order: str) -> dict[str, str | None]:
    """``next_page``/``prev_page`` around one page (keyset on ``(created_at, id)``)."""

    def token(record: SessionRecord, direction: Literal["next", "prev"]) -> str:
        return Cursor([record.created_at, record.id], direction, order, "sessions").encode()

    backwards = cursor is not None and cursor.direction == "prev"
    has_next = (more and not backwards) or backwards
    has_prev = (more and backwards) or (cursor is not None and not backwards)
    return {
        "next_page": token(records[-1], "next") if records and has_next else None,
        "prev_page": token(records[0], "prev") if records and has_prev else None,
    }


@router.get("", response_model=SessionPage, summary="List sessions")
async def list_sessions(
    request: Request,
    agent_id: str | None = None,
    agent_version: Annotated[int | None, Query(ge=1)] = None,
    created_gt: Annotated[Timestamp | None, Query(alias="created_at[gt]")] = None,
    created_gte: Annotated[Timestamp | None, Query(alias="created_at[gte]")] = None,
    created_lt: Annotated[Timestamp | None, Query(alias="created_at[lt]")] = None,
    created_lte: Annotated[Timestamp | None, Query(alias="created_at[lte]")] = None,
    deployment_id: str | None = None,
    memory_store_id: str | None = None,
    include_archived: IncludeArchived = False,
    statuses: Annotated[list[Status] | None, Query(alias="statuses[]")] = None,
    order: Literal["asc", "desc"] = "desc",
    limit: Limit100 = 20,
    page: PageToken = None,
) -> JSONBytes:
    services, workspace = context(request)
    if agent_version is not None and agent_id is None:
        raise InvalidRequest("agent_version filters need agent_id")
    flt = SessionFilter(
        workspace_id=workspace,
        agent_id=agent_id,
        agent_version=agent_version,
        statuses=tuple(statuses or ()),
        include_archived=include_archived,
        created_gt=stamp(created_gt),
        created_gte=stamp(created_gte),
        created_lt=stamp(created_lt),
        created_lte=stamp(created_lte),
        memory_store_id=memory_store_id,
        none_match=deployment_id is not None,
    )
    cursor = decode_cursor(page, order=order, scope="sessions") if page else None
    if cursor is not None and (len(cursor.key) != 2 or not all(isinstance(part, str) for part in cursor.key)):
        raise InvalidRequest("invalid or expired page cursor")
    records, more = await services.sessions.list_sessions(flt, order=order, limit=limit, cursor=cursor)
    return json_response({"data": [session_wire(r) for r in records], **_pages(records, more, cursor, order)})


@router.post("/{session_id}/archive", response_model=BetaManagedAgentsSession, summary="Archive a session")
async def archive(request: Request, session_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response(session_wire(await services.sessions.archive_session(_sid(session_id), workspace)))


@router.delete("/{session_id}", response_model=BetaManagedAgentsDeletedSession, summary="Delete a session")
async def delete(request: Request, session_id: str) -> JSONBytes:
    services, workspace = context(request)
    sid = _sid(session_id)
    await services.sessions.delete_session(sid, workspace, also=lambda: resource_tokens.remove(sid))
    return json_response({"id": session_id, "type": "session_deleted"})

"""``/v1/sessions/{id}/threads``: list, retrieve, archive, and each thread's events and stream (api.md §9).

A thread's events are its own log (the session's, for the primary thread), paged and streamed exactly like a
session's (``routes.events``): same cursor, same SSE framing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from corral.api.event_limits import stream_guard
from corral.api.http import JSONBytes, PageToken, check_id, context, json_response
from corral.api.routes.common import ERRORS
from corral.api.routes.events import DELTA_TYPES, MAX_DELTA_TYPES, event_page
from corral.api.sse import EventStream
from corral.api.thread_wire import thread_wire
from corral.api.wire import EventPage, SessionThread, SessionThreadPage, StreamFrame
from corral.compose.services import Services
from corral.errors import ErrorCode, InvalidRequest
from corral.paging import Cursor, decode_cursor
from corral.session import EventQuery, SessionRecord
from corral.vocab.options import ThreadStatus

Statuses = Annotated[list[ThreadStatus] | None, Query(alias="statuses[]", description="Statuses to include.")]
router = APIRouter(prefix="/v1/sessions/{session_id}/threads", tags=["threads"], responses=ERRORS)


async def _session(services: Services, workspace: str, session_id: str) -> SessionRecord:
    return await services.sessions.get_session(check_id("session", session_id, "session"), workspace)


async def _thread(request: Request, session_id: str, thread_id: str) -> tuple[SessionRecord, SessionRecord]:
    services, workspace = context(request)
    session = await _session(services, workspace, session_id)
    thread = await services.sessions.threads.get_thread(session, check_id("thread", thread_id, "thread"))
    return session, thread


def _after(page: str | None, scope: str, size: int) -> list[object] | None:
    if not page:
        return None
    cursor = decode_cursor(page, order="asc", scope=scope)
    if cursor.direction != "next" or len(cursor.key) != size:
        raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
    return cursor.key


@router.get("", response_model=SessionThreadPage, summary="List a session's threads")
async def list_threads(
    request: Request,
    session_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    page: PageToken = None,
    statuses: Annotated[
        list[ThreadStatus] | None, Query(alias="statuses[]", description="Statuses to include.")
    ] = None,
) -> JSONBytes:
    """The primary thread first, then child threads oldest first."""
    services, workspace = context(request)
    session = await _session(services, workspace, session_id)
    wanted = tuple(statuses or ())
    key = _after(page, "threads", 2)
    items: list[SessionRecord] = []
    if key is None and (not wanted or session.status in wanted):
        items.append(session)
    after = (str(key[0]), str(key[1])) if key else (session.created_at, "")
    children, more = await services.sessions.threads.list_threads(session.id, wanted, limit - len(items), after)
    items += children
    last = items[-1] if items else None
    next_page = None
    if more and last is not None:
        mark = "" if last.id == session.id else last.id
        next_page = Cursor([last.created_at, mark], "next", "asc", "threads").encode()
    return json_response({"data": [thread_wire(session, item) for item in items], "next_page": next_page})


@router.get("/{thread_id}", response_model=SessionThread, summary="Retrieve a thread")
async def retrieve(request: Request, session_id: str, thread_id: str) -> JSONBytes:
    session, thread = await _thread(request, session_id, thread_id)
    return json_response(thread_wire(session, thread))


@router.post("/{thread_id}/archive", response_model=SessionThread, summary="Archive a thread")
async def archive(request: Request, session_id: str, thread_id: str) -> JSONBytes:
    """The thread is terminated (``session.thread_status_terminated``); the primary one goes with its session."""
    services, _ = context(request)
    session, thread = await _thread(request, session_id, thread_id)
    archived = await services.sessions.threads.archive_thread(
        session.id, thread.id if thread.id != session.id else thread_id
    )
    return json_response(thread_wire(session, archived))


@router.get("/{thread_id}/events", response_model=EventPage, summary="List a thread's events")
async def list_events(
    request: Request,
    session_id: str,
    thread_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    page: PageToken = None,
) -> JSONBytes:
    services, _ = context(request)
    _, thread = await _thread(request, session_id, thread_id)
    key = _after(page, "thread_events", 1)
    after_seq = key[0] if key else None
    if after_seq is not None and (not isinstance(after_seq, int) or isinstance(after_seq, bool)):
        raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
    events, more = await services.sessions.list_events(EventQuery(thread.id, limit=limit, after_seq=after_seq))
    return event_page(events, more, "asc", "thread_events")


@router.get(
    "/{thread_id}/stream",
    response_class=EventStream,
    status_code=200,
    summary="Stream a thread's new events (Server-Sent Events)",
    responses={200: {"model": StreamFrame, "description": "event: <type>\\ndata: <event JSON>"}},
)
async def stream(
    request: Request,
    session_id: str,
    thread_id: str,
    event_deltas: Annotated[
        list[str] | None, Query(alias="event_deltas[]", description="agent.message and/or agent.thinking")
    ] = None,
) -> EventStream:
    services, _ = context(request)
    wanted = list(event_deltas or ())
    if len(wanted) > MAX_DELTA_TYPES or not set(wanted) <= DELTA_TYPES:
        raise InvalidRequest(f"event_deltas[] accepts at most {MAX_DELTA_TYPES} of {sorted(DELTA_TYPES)}")
    _, thread = await _thread(request, session_id, thread_id)
    return EventStream(services, thread.id, frozenset(wanted), None, stream_guard(request))

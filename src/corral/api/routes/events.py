"""``/v1/sessions/{id}/events``: send, list, and the SSE stream (api.md §6)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request

from corral.api import outcome_ops
from corral.api.event_limits import body_length, check_event_sizes, stream_guard
from corral.api.http import JSONBytes, PageToken, Timestamp, check_id, context, raw_json_response, stamp
from corral.api.routes.common import ERRORS
from corral.api.routes.work import work_queue
from corral.api.schemas.events import SendEvents
from corral.api.session_ops import new_event
from corral.api.sse import EventStream
from corral.api.wire import BetaManagedAgentsSendSessionEvents, EventPage, StreamFrame
from corral.compose.services import Services
from corral.errors import ErrorCode, InvalidRequest, NotFound
from corral.paging import Cursor, decode_cursor
from corral.session import Event, EventQuery
from corral.session.quotas import LogQuota
from corral.vocab.events import FilterableEventType, is_filterable
from corral.work.results import results_once

router = APIRouter(prefix="/v1/sessions/{session_id}", tags=["events"], responses=ERRORS)

DELTA_TYPES = frozenset({"agent.message", "agent.thinking"})
MAX_DELTA_TYPES = 100


def _sid(session_id: str) -> str:
    return check_id("session", session_id, "session")


def _joined(events: list[str]) -> str:
    return '{"data":[' + ",".join(events) + "]}"


async def _self_hosted(request: Request, session_id: str, workspace: str) -> bool:
    """Whether the session runs in a self_hosted environment."""
    services, _ = context(request)
    record = await services.sessions.get_session(session_id, workspace)
    try:
        environment = await services.catalog.get_environment(workspace, record.environment_id)
    except NotFound:
        return False
    return environment.config.get("type") == "self_hosted"


@router.post("/events", response_model=BetaManagedAgentsSendSessionEvents, summary="Send events to a session")
async def send_events(request: Request, session_id: str, body: SendEvents) -> JSONBytes:
    services, workspace = context(request)
    session_id = _sid(session_id)
    check_event_sizes(services.settings, body.events, body_length(request))
    events = await outcome_ops.prepared(services, workspace, [new_event(event) for event in body.events])
    # asked only when it matters: a user.tool_result (refused elsewhere), or input a self-hosted worker must serve
    self_hosted = any(e.type != "user.interrupt" for e in events) and await _self_hosted(request, session_id, workspace)
    answered = [str(e.data.get("tool_use_id")) for e in events if e.type == "user.tool_result"]
    guard = results_once(session_id, answered) if self_hosted and answered else None
    settings = services.settings
    quota = LogQuota(settings.max_events_per_session, settings.max_session_bytes)
    appended = await services.sessions.send_client_events(
        session_id, workspace, events, self_hosted=self_hosted, guard=guard, quota=quota
    )
    if self_hosted and any(event.type != "user.tool_result" for event in events):
        record = await services.sessions.get_session(session_id, workspace)
        await work_queue(request).enqueue(workspace, record.environment_id, session_id)  # no-op while one is live
    return raw_json_response(_joined([event.wire_json() for event in appended]))


def _types(types: list[str] | None) -> tuple[FilterableEventType, ...]:
    known: list[FilterableEventType] = []
    unknown: list[str] = []
    for kind in types or ():
        if is_filterable(kind):
            known.append(kind)
        else:
            unknown.append(kind)
    if unknown:
        raise InvalidRequest(f"unknown event types in types[]: {sorted(set(unknown))}")
    return tuple(known)


def _after(page: str | None, order: str) -> int | None:
    if not page:
        return None
    cursor = decode_cursor(page, order=order, scope="events")
    seq = cursor.key[0] if len(cursor.key) == 1 else None
    if not isinstance(seq, int) or isinstance(seq, bool) or cursor.direction != "next":
        raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
    return seq


@router.get("/events", response_model=EventPage, summary="List a session's events")
async def list_events(
    request: Request,
    session_id: str,
    created_gt: Annotated[Timestamp | None, Query(alias="created_at[gt]")] = None,
    created_gte: Annotated[Timestamp | None, Query(alias="created_at[gte]")] = None,
    created_lt: Annotated[Timestamp | None, Query(alias="created_at[lt]")] = None,
    created_lte: Annotated[Timestamp | None, Query(alias="created_at[lte]")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    order: Literal["asc", "desc"] = "asc",
    page: PageToken = None,
    types: Annotated[list[str] | None, Query(alias="types[]", description="Event types to include.")] = None,
) -> JSONBytes:
    services, workspace = context(request)
    await services.sessions.get_session(_sid(session_id), workspace)
    query = EventQuery(
        session_id=session_id,
        order=order,
        limit=limit,
        after_seq=_after(page, order),
        types=_types(types),
        created_gt=stamp(created_gt),
        created_gte=stamp(created_gte),
        created_lt=stamp(created_lt),
        created_lte=stamp(created_lte),
    )
    events, more = await services.sessions.list_events(query)
    return event_page(events, more, order, "events")


def event_page(events: list[Event], more: bool, order: str, scope: str) -> JSONBytes:
    """A page of events as the wire has it, its stored JSON spliced in unparsed; the cursor names ``scope``."""
    next_page = Cursor([events[-1].seq], "next", order, scope).encode() if more and events else None
    body = '{"data":[' + ",".join(e.wire_json() for e in events) + '],"next_page":'
    return raw_json_response(body + (f'"{next_page}"' if next_page else "null") + "}")


@router.get(
    "/events/stream",
    response_class=EventStream,
    status_code=200,
    summary="Stream a session's new events (Server-Sent Events)",
    responses={200: {"model": StreamFrame, "description": "event: <type>\\ndata: <event JSON>"}},
)
async def stream_events(
    request: Request,
    session_id: str,
    event_deltas: Annotated[
        list[str] | None, Query(alias="event_deltas[]", description="agent.message and/or agent.thinking")
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(description="resume: the id of the last event received; the stream first sends those after it"),
    ] = None,
) -> EventStream:
    services, workspace = context(request)
    wanted = list(event_deltas or ())
    if len(wanted) > MAX_DELTA_TYPES or not set(wanted) <= DELTA_TYPES:
        raise InvalidRequest(f"event_deltas[] accepts at most {MAX_DELTA_TYPES} of {sorted(DELTA_TYPES)}")
    await services.sessions.get_session(_sid(session_id), workspace)
    resume_after = await _resume_point(services, session_id, last_event_id)
    return EventStream(services, session_id, frozenset(wanted), resume_after, stream_guard(request))


async def _resume_point(services: Services, session_id: str, last_event_id: str | None) -> int | None:
    """The log position of the event a resuming client saw last (``Last-Event-ID``); None: not resuming."""
    if last_event_id is None:
        return None
    found = await services.sessions.find_event(session_id, last_event_id.strip())
    if found is None:
        raise InvalidRequest(f"Last-Event-ID: {last_event_id!r} is not an event of this session")
    return found.seq

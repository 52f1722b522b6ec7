"""The sessions pages: the list (filtered by status, agent and creation date), creating a session, one session's
timeline, and the session's actions (a message, an interrupt, a tool confirmation, a custom tool result).

Invariants: every read and write goes through the calls the API routes make (``session_ops.create_session``,
``new_event`` over the API's own ``ClientEvent`` models, ``SessionStore.send_client_events``), scoped to the
caller's workspace; a session of another workspace is a 404 page. Actions answer with a redirect back to the
session page (post/redirect/get), so they work without JavaScript.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from corral.api import outcome_ops
from corral.api.schemas.events import SendEvents
from corral.api.schemas.sessions import SessionCreate
from corral.api.session_ops import create_session, new_event
from corral.catalog import AgentFilter
from corral.console.cookie import PATH
from corral.console.timeline import entries, pretty
from corral.console.web import Caller, caller, field, form, invalid, page, redirect, render
from corral.errors import InvalidRequest
from corral.ids import rfc3339
from corral.session import EventQuery, SessionFilter
from corral.session.spend import public_usage

STATUSES = ("running", "idle", "rescheduling", "terminated")
EVENT_PAGE = 1000


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date such as 2026-12-07") from None


def _midnight(day: date | None) -> str | None:
    """The start of ``day`` (UTC) in the stored timestamp form, so text comparison orders like time."""
    return rfc3339(datetime.combine(day, time(), UTC)) if day else None


def _filter(request: Request, workspace: str) -> tuple[SessionFilter, dict[str, str]]:
    query = request.query_params
    chosen = {name: query.get(name, "").strip() for name in ("status", "agent", "from", "to")}
    if chosen["status"] and chosen["status"] not in STATUSES:
        raise InvalidRequest(f"status must be one of {list(STATUSES)}")
    since, until = _day(chosen["from"], "from"), _day(chosen["to"], "to")
    return (
        SessionFilter(
            workspace_id=workspace,
            agent_id=chosen["agent"] or None,
            statuses=(chosen["status"],) if chosen["status"] else (),
            created_gte=_midnight(since),
            created_lt=_midnight(until + timedelta(days=1) if until else None),
        ),
        chosen,
    )


@page
async def sessions(request: Request) -> Response:
    who = await caller(request)
    flt, chosen = _filter(request, who.workspace)
    records, _ = await who.services.sessions.list_sessions(flt, order="desc", limit=100, cursor=None)
    agents = await who.services.catalog.list_agents(AgentFilter(who.workspace, False, None, None), limit=100, page=None)
    envs = await who.services.catalog.list_environments(who.workspace, include_archived=False, limit=100, page=None)
    return render(
        request,
        "sessions.html",
        sessions=records,
        agents=agents.items,
        environments=envs.items,
        statuses=STATUSES,
        chosen=chosen,
        session=who.session,
    )


@page
async def create(request: Request) -> Response:
    who = await caller(request)
    data = await form(request, who.session)
    raw: dict[str, object] = {"agent": field(data, "agent"), "environment_id": field(data, "environment_id")}
    if field(data, "title"):
        raw["title"] = field(data, "title")
    try:
        body = SessionCreate.model_validate(raw)
    except ValidationError as error:
        raise invalid(error) from None
    record, _ = await create_session(who.services, who.workspace, body)
    return redirect(f"{PATH}/sessions/{record.id}")


@page
async def session(request: Request) -> Response:
    who = await caller(request)
    session_id = request.path_params["session_id"]
    record = await who.services.sessions.get_session(session_id, who.workspace)
    events, more = await who.services.sessions.list_events(EventQuery(session_id=record.id, limit=EVENT_PAGE))
    # The record (status, pending actions) is as of its last_seq; later events come by the live stream, so the
    # badge and the approval forms never lag the entries shown.
    events = [event for event in events if event.seq <= record.last_seq]
    timeline = entries(events, frozenset(record.pending_actions))
    return render(
        request,
        "session.html",
        record=record,
        title=record.doc.get("title") or record.id,
        timeline=timeline,
        more=more,
        last_seq=events[-1].seq if events else 0,
        usage=pretty(public_usage(record.usage)),
        session=who.session,
    )


async def _send(who: Caller, session_id: str, event: dict[str, object]) -> None:
    try:
        body = SendEvents.model_validate({"events": [event]})
    except ValidationError as error:
        raise invalid(error) from None
    events = await outcome_ops.prepared(who.services, who.workspace, [new_event(param) for param in body.events])
    await who.services.sessions.send_client_events(session_id, who.workspace, events, self_hosted=False)


def _back(session_id: str) -> Response:
    return redirect(f"{PATH}/sessions/{session_id}#latest")


@page
async def send_message(request: Request) -> Response:
    who = await caller(request)
    data = await form(request, who.session)
    session_id = request.path_params["session_id"]
    text = field(data, "text")
    if not text:
        raise InvalidRequest("the message is empty")
    await _send(who, session_id, {"type": "user.message", "content": [{"type": "text", "text": text}]})
    return _back(session_id)


@page
async def interrupt(request: Request) -> Response:
    who = await caller(request)
    await form(request, who.session)
    session_id = request.path_params["session_id"]
    await _send(who, session_id, {"type": "user.interrupt"})
    return _back(session_id)


@page
async def confirm(request: Request) -> Response:
    who = await caller(request)
    data = await form(request, who.session)
    session_id = request.path_params["session_id"]
    event: dict[str, object] = {
        "type": "user.tool_confirmation",
        "tool_use_id": field(data, "tool_use_id"),
        "result": field(data, "result"),
    }
    if field(data, "result") == "deny" and field(data, "deny_message"):
        event["deny_message"] = field(data, "deny_message")
    await _send(who, session_id, event)
    return _back(session_id)


@page
async def custom_result(request: Request) -> Response:
    who = await caller(request)
    data = await form(request, who.session)
    session_id = request.path_params["session_id"]
    event: dict[str, object] = {
        "type": "user.custom_tool_result",
        "custom_tool_use_id": field(data, "custom_tool_use_id"),
        "content": [{"type": "text", "text": field(data, "result")}],
        "is_error": field(data, "is_error") == "on",
    }
    await _send(who, session_id, event)
    return _back(session_id)

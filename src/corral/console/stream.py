"""``GET /console/sessions/{id}/stream``: the session's timeline entries, live, as Server-Sent Events.

Frames: ``event: entry`` (``id:`` the event's log position, ``data:`` an ``Entry``), ``event: delta`` (a fragment
of the agent message being written: ``{"event_id", "text"}``), ``event: end`` (the session was deleted) and
comment pings.

Invariants:

* Whenever the subscription attaches, the entries after the position the client names (``Last-Event-ID``, which
  a browser's ``EventSource`` sends by itself when it reconnects, else ``?after=``, the last position the page
  rendered) up to the subscription's start are read from the log first, then the live ones follow. Nothing
  between the page load, a dropped connection or a server restart and the live tail is lost or shown twice.
* A stream learns nothing the API's stream would not show this caller: the session is read with the caller's
  workspace first, and the key is checked like every console request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import anyio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from corral.compose.services import Services
from corral.console.timeline import Entry, delta_text, entry
from corral.console.web import SignIn, caller
from corral.errors import CorralError
from corral.session import Closed, Delta, Event, Subscriber

_REPLAY_SLICE = 500
_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def _frame(kind: str, data: object, seq: int | None = None) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _position(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    return int(raw) if raw.isdigit() else 0


async def stream(request: Request) -> Response:
    """Plain-text refusals (the page's script reads the status): 401 signed out or revoked, 404 no session."""
    try:
        who = await caller(request)
        record = await who.services.sessions.get_session(request.path_params["session_id"], who.workspace)
    except SignIn as need:
        return PlainTextResponse(need.reason, status_code=401)
    except CorralError as error:
        return PlainTextResponse(error.message, status_code=error.status)
    if request.method == "HEAD":  # the page's script asking why a stream closed: it may go on
        return Response(status_code=200, media_type="text/event-stream")
    frames = _frames(who.services, record.id, _position(request))
    return StreamingResponse(frames, media_type="text/event-stream", headers=_HEADERS)


class _Entries:
    """Entries of one session's events, with the model spans' start times looked up when not seen here."""

    def __init__(self, services: Services, session_id: str):
        self.services = services
        self.session_id = session_id
        self.starts: dict[str, str] = {}

    async def frame(self, event: Event) -> str:
        if event.type == "span.model_request_end":
            start_id = str(event.data().get("model_request_start_id"))
            if start_id not in self.starts:
                found = await self.services.sessions.find_event(self.session_id, start_id)
                if found is not None:
                    self.starts[start_id] = found.created_at
        made: Entry = entry(event, self.starts)
        return _frame("entry", made, event.seq)


async def _frames(services: Services, session_id: str, after: int) -> AsyncGenerator[str]:
    async with services.sessions.subscribe(session_id, frozenset({"agent.message"})) as subscriber:
        entries = _Entries(services, session_id)
        start = after + 1
        while start <= subscriber.after:
            end = min(start + _REPLAY_SLICE, subscriber.after + 1)
            for event in await services.sessions.get_events(session_id, start, end):
                yield await entries.frame(event)
            start = end
        async for item in _live(subscriber, services.settings.sse_ping_seconds):
            if isinstance(item, Closed):
                return
            if isinstance(item, Delta):
                fragment = delta_text(item.body)
                if fragment is not None:
                    yield _frame("delta", {"event_id": fragment[0], "text": fragment[1]})
                continue
            if item is None:
                yield ": ping\n\n"
            elif item.type == "session.deleted":
                yield _frame("end", {"reason": "the session was deleted"})
                return
            else:
                yield await entries.frame(item)


async def _live(subscriber: Subscriber, ping_every: float) -> AsyncGenerator[Event | Delta | Closed | None]:
    """The subscriber's items as they come, None when nothing came for ``ping_every`` seconds."""
    while True:
        item: Event | Delta | Closed | None = None
        with anyio.move_on_after(ping_every):
            try:
                item = await subscriber.receive.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return
        yield item

"""``GET /v1/sessions/{id}/events/stream``: Server-Sent Events, framed exactly as api.md §6.4 says.

Every frame is ``event: <type>\\ndata: <one JSON object>\\n\\n``; keep-alives are ``event: ping``.

Invariants:

* The subscription is attached *before* the 200 goes out, so an event appended after the client saw the
  response headers is always delivered (stream-first, no replay of earlier events).
* Resuming (``Last-Event-ID: sevt_…``, an extension: the hosted API never replays): the events after that one up
  to where the subscription starts are read from the log and sent first, then the live ones; the subscription
  starts after the log's last position at attach time, so nothing is missed or sent twice. Deltas are never
  replayed (they are never stored).
* The stream ends after ``session.deleted`` (or when the broker cuts a subscriber off), or with an ``error`` frame
  (``authentication_error``) when its key is revoked (``corral.api.limits.StreamGuard``); a client that
  disconnects ends it at once: the disconnect watcher cancels the pump, and leaving ``subscribe`` detaches
  the subscriber. No task, subscriber or buffer outlives the connection.
* A process that shuts down (``close_streams``, from ``corral serve``'s SIGTERM) ends every open stream the
  normal way, with the chunked body's last chunk, and every stream opened afterwards at once: the SDK's iterator
  then simply ends, and the client may resume on another API process with ``Last-Event-ID``.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext

import anyio
from anyio import CancelScope
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from corral.api.errors import request_id_of, send_error
from corral.api.limits import StreamGuard
from corral.compose.services import Services
from corral.errors import CorralError
from corral.session import Closed, Delta, Event, Subscriber

log = logging.getLogger("corral.api.sse")

_PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_REVOKED = (
    b'event: error\ndata: {"type":"error","error":{"type":"authentication_error",'
    b'"message":"the API key of this stream was revoked"}}\n\n'
)
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


#: the pumps of the streams open in this process, ended together by ``close_streams``
_OPEN: set[CancelScope] = set()
_closing = False


def close_streams() -> None:
    """End every open event stream cleanly, and every later one at once (the process is shutting down)."""
    global _closing
    _closing = True
    for scope in list(_OPEN):
        scope.cancel()


def frame(kind: str, data: str) -> bytes:
    return f"event: {kind}\ndata: {data}\n\n".encode()


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(
        self,
        services: Services,
        session_id: str,
        deltas: frozenset[str],
        resume_after: int | None = None,
        guard: StreamGuard | None = None,
    ):
        """``resume_after``: the log position of the event named by ``Last-Event-ID`` (None: live only);
        ``guard``: counts the stream against its key's limit and ends it when the key is revoked."""
        super().__init__(status_code=200)
        self.services = services
        self.session_id = session_id
        self.deltas = deltas
        self.resume_after = resume_after
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with self.guard or nullcontext():
                await self._serve(receive, send)
        except CorralError as error:  # over the key's stream limit, or deleted between the route's check and here
            await send_error(send, error, request_id_of(scope))

    async def _serve(self, receive: Receive, send: Send) -> None:
        stats = self.services.streams
        subscription = self.services.sessions.subscribe(self.session_id, self.deltas)
        subscriber = await subscription.__aenter__()
        stats.open_streams += 1
        pumps: list[CancelScope] = []  # this stream's, once it pumps
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
            gone = anyio.Event()
            async with anyio.create_task_group() as group:
                pumps.append(group.cancel_scope)
                _OPEN.add(group.cancel_scope)
                if _closing:
                    group.cancel_scope.cancel()
                group.start_soon(_watch_disconnect, receive, group.cancel_scope, gone)
                if self.guard is not None:
                    group.start_soon(self._watch_key, self.guard, group.cancel_scope)
                if not await self._replay(subscriber, send):
                    await self._pump(subscriber, send)
                group.cancel_scope.cancel()
            if not gone.is_set():
                if self.guard is not None and self.guard.revoked.is_set():
                    await send({"type": "http.response.body", "body": _REVOKED, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except* OSError:
            pass  # the client went away while we wrote; nothing to clean up beyond the finally
        finally:
            _OPEN.difference_update(pumps)
            stats.open_streams -= 1
            with anyio.CancelScope(shield=True):
                await subscription.__aexit__(None, None, None)

    async def _watch_key(self, guard: StreamGuard, scope: CancelScope) -> None:
        await guard.watch(self.services.settings.sse_ping_seconds)
        scope.cancel()

    async def _replay(self, subscriber: Subscriber, send: Send) -> bool:
        """Send the stored events after ``resume_after`` up to where the live ones start; True if the stream
        ends among them (the session was deleted)."""
        if self.resume_after is None:
            return False
        start = self.resume_after + 1
        while start <= subscriber.after:
            end = min(start + _REPLAY_SLICE, subscriber.after + 1)
            events = await self.services.sessions.get_events(self.session_id, start, end)
            body, done = frames_of(list[Event | Delta | Closed](events))
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
            if done:
                return True
            start = end
        return False

    async def _pump(self, subscriber: Subscriber, send: Send) -> None:
        ping_every = self.services.settings.sse_ping_seconds
        while True:
            item: Event | Delta | Closed | None = None
            with anyio.move_on_after(ping_every):
                try:
                    item = await subscriber.receive.receive()
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    return
            if item is None:
                await send({"type": "http.response.body", "body": _PING, "more_body": True})
                continue
            body, done = frames_of([item, *_ready(subscriber)])
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
            if done:
                return


_BATCH = 64
_REPLAY_SLICE = 500


def _ready(subscriber: Subscriber) -> list[Event | Delta | Closed]:
    """What else is already queued: a burst (a turn's events at once) goes out in one write."""
    items: list[Event | Delta | Closed] = []
    while len(items) < _BATCH:
        try:
            items.append(subscriber.receive.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            break
    return items


def frames_of(items: list[Event | Delta | Closed]) -> tuple[bytes, bool]:
    """The frames of ``items`` in order, up to the end of the stream; and whether the stream ends there."""
    frames: list[bytes] = []
    for item in items:
        if isinstance(item, Closed):
            log.debug("a stream closed by the broker: %s", item.reason)
            return b"".join(frames), True
        if isinstance(item, Delta):
            frames.append(frame(item.kind, item.wire_json()))
        else:
            frames.append(frame(item.type, item.wire_json()))
            if item.type == "session.deleted":
                return b"".join(frames), True
    return b"".join(frames), False


async def _watch_disconnect(receive: Receive, scope: CancelScope, gone: anyio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            log.debug("an SSE client went away")
            gone.set()
            scope.cancel()
            return

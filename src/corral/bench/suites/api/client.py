"""A Managed Agents API client for the benchmarks: httpx over loopback, SSE lines timestamped on arrival.

Invariants: every SSE line is timestamped by a reader task the moment it arrives (never when the consumer
gets to it), so a slow consumer cannot inflate a latency; the reader parses no JSON (with hundreds of streams in
one client process, parsing on arrival would be the client's own lag); a session's stream is opened before its first
message is sent (stream-first, as the API asks).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypedDict, cast

import anyio
import httpx

from corral._types import JSONObject

BETA = "managed-agents-2026-04-01"
DELTAS = {"event_delta"}  # a token; ``event_start`` comes with the block's start frame, before any token
PREVIEWS = {"event_start", "event_delta"}  # live preview frames: not stored events, never counted as events


def client(url: str, key: str, connections: int = 100) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"authorization": f"Bearer {key}", "anthropic-beta": BETA}
    return httpx.AsyncClient(base_url=url, headers=headers, timeout=httpx.Timeout(300.0), limits=limits)


async def _post(http: httpx.AsyncClient, path: str, body: JSONObject) -> JSONObject:
    response = await http.post(path, json=body)
    response.raise_for_status()
    found: JSONObject = response.json()
    return found


async def setup_agent(http: httpx.AsyncClient, name: str) -> tuple[str, str]:
    """An agent without tools (the model answers in text) and a cloud environment: their ids."""
    agent = await _post(http, "/v1/agents", {"name": name, "model": "claude-bench", "system": "Be brief."})
    config = {"type": "cloud", "networking": {"type": "unrestricted"}}
    environment = await _post(http, "/v1/environments", {"name": f"{name}-env", "config": config})
    return str(agent["id"]), str(environment["id"])


async def new_session(http: httpx.AsyncClient, agent_id: str, environment_id: str) -> str:
    return str((await _post(http, "/v1/sessions", {"agent": agent_id, "environment_id": environment_id}))["id"])


async def send_message(http: httpx.AsyncClient, session_id: str, text: str) -> None:
    body = {"events": [{"type": "user.message", "content": [{"type": "text", "text": text}]}]}
    await _post(http, f"/v1/sessions/{session_id}/events", body)


class EventFrame(TypedDict, total=False):
    """The fields of a session event's SSE frame that the benchmarks read."""

    id: str
    type: str
    processed_at: str | None
    content: list[JSONObject]


@dataclass
class Seen:
    kind: str
    at: float  # time.perf_counter() on arrival
    wall: float  # time.time() on arrival
    raw: str  # the frame's data line, parsed only when asked (after the run), not by the reader

    @property
    def data(self) -> EventFrame:
        found = json.loads(self.raw)
        return cast(EventFrame, found) if isinstance(found, dict) else {}  # as corral serve sent it


@dataclass
class Stream:
    """What one SSE connection received; ``idle`` is set (and replaced) at every ``session.status_idle``."""

    events: list[Seen] = field(default_factory=lambda: list[Seen]())
    idles: int = 0
    idle: anyio.Event = field(default_factory=anyio.Event)
    error: str | None = None

    @property
    def stored_events(self) -> int:
        """Frames that carry a stored session event (previews and pings are not events)."""
        return sum(1 for e in self.events if e.kind not in PREVIEWS)

    def first_after(self, kinds: set[str], after: float) -> Seen | None:
        return next((e for e in self.events if e.kind in kinds and e.at >= after), None)

    async def wait_idles(self, count: int) -> None:
        while self.idles < count:
            await self.idle.wait()


async def _read(response: httpx.Response, stream: Stream, ready: anyio.Event) -> None:
    kind = ""
    ready.set()
    async for line in response.aiter_lines():
        now, wall = time.perf_counter(), time.time()
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:") and kind and kind != "ping":
            stream.events.append(Seen(kind, now, wall, line[5:]))
            if kind == "session.status_idle":
                stream.idles += 1
                stream.idle.set()
                stream.idle = anyio.Event()


@asynccontextmanager
async def watching(http: httpx.AsyncClient, session_id: str, *, deltas: bool = True) -> AsyncGenerator[Stream]:
    """Open the session's SSE stream (with ``agent.message`` previews) and record it until the block ends."""
    stream = Stream()
    params = {"event_deltas[]": "agent.message"} if deltas else {}
    async with http.stream("GET", f"/v1/sessions/{session_id}/events/stream", params=params) as response:
        response.raise_for_status()
        failure: Exception | None = None
        async with anyio.create_task_group() as group:
            ready = anyio.Event()
            group.start_soon(_guarded, response, stream, ready)
            await ready.wait()
            try:
                yield stream
            except Exception as exc:  # re-raised below, unwrapped by the task group
                failure = exc
            finally:
                group.cancel_scope.cancel()
        if failure is not None:
            raise failure


async def _guarded(response: httpx.Response, stream: Stream, ready: anyio.Event) -> None:
    try:
        await _read(response, stream, ready)
    except httpx.HTTPError as exc:
        stream.error = f"{type(exc).__name__}: {exc}"
        stream.idle.set()

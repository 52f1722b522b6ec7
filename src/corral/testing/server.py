"""``ScriptedModelServer``: a real loopback HTTP server that answers like a model provider, from a script.

Endpoints: ``POST /v1/messages`` (Anthropic Messages, ``stream`` true or false) and
``POST /v1/chat/completions`` (OpenAI Chat Completions, ``stream`` true or false); point an Anthropic
client at ``server.url`` and an OpenAI client at ``server.url + "/v1"``. Control endpoints:
``GET /_scripted/requests`` (the recorded requests), ``PUT /_scripted/script`` (replace the script),
``GET /_scripted/health``.

Run it in-process (``with ScriptedModelServer(script) as server:`` starts a background thread with its own
event loop, so it never competes with the code under test) or as a subprocess
(``python -m corral.testing --script script.json``, see ``ScriptedModelProcess``), e.g. when the workers
under test get ``kill -9``'d.

Invariants: every request is recorded before it is answered; a response is paced by the script's latency
model (time to first token, then tokens per second); a fault breaks exactly the response it was meant for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypedDict

import anyio

from corral._types import JSONObject, json_object
from corral.testing import wire_anthropic, wire_openai
from corral.testing.http import Request, Responder, ThreadedServer
from corral.testing.render import Frame
from corral.testing.script import Fault, Latency, Reply, Script, Seen

_STATUS_FAULTS = ("rate_limit", "server_error", "overloaded")


class Wire(Protocol):
    """What both wire modules (``wire_anthropic``, ``wire_openai``) provide; rendering a reply differs."""

    def seen(self, body: JSONObject) -> Seen: ...
    def error(self, kind: str, message: str | None = None) -> tuple[int, JSONObject]: ...
    def stream_error_frame(self, kind: str) -> Frame: ...
    def malformed_frame(self) -> Frame: ...


class RecordedJSON(TypedDict):
    """A recorded request as ``GET /_scripted/requests`` lists it."""

    protocol: str
    path: str
    body: JSONObject
    position: int
    fault: str | None
    received_at: float


@dataclass
class RecordedRequest:
    protocol: str
    path: str
    body: JSONObject
    position: int
    fault: str | None
    received_at: float = field(default_factory=time.time)

    def to_json(self) -> RecordedJSON:
        return {
            "protocol": self.protocol,
            "path": self.path,
            "body": self.body,
            "position": self.position,
            "fault": self.fault,
            "received_at": self.received_at,
        }


class ScriptedApp:
    """The request handler; shared by the thread and the subprocess runners."""

    def __init__(self, script: Script):
        self.script = script
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def recorded(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self.requests)

    async def __call__(self, request: Request, responder: Responder) -> None:
        route = (request.method, request.path)
        if route == ("POST", "/v1/messages"):
            await self._answer(wire_anthropic, request, responder)
        elif request.method == "POST" and request.path in ("/v1/chat/completions", "/chat/completions"):
            await self._answer(wire_openai, request, responder)
        elif route == ("GET", "/_scripted/requests"):
            await responder.json(200, [r.to_json() for r in self.recorded()])
        elif route == ("PUT", "/_scripted/script"):
            await self._replace_script(request, responder)
        elif route == ("GET", "/_scripted/health"):
            await responder.json(200, {"ok": True})
        else:
            await responder.json(404, _error("not_found_error", f"no route {route}"))

    async def _replace_script(self, request: Request, responder: Responder) -> None:
        script = json_object(request.json())
        if script is None:
            await responder.json(400, _error("invalid_request_error", "the script must be a JSON object"))
            return
        self.script = Script.from_json(script)
        await responder.json(200, {"ok": True})

    async def _answer(self, wire: Wire, request: Request, responder: Responder) -> None:
        body = json_object(request.json())
        if body is None:
            await responder.json(400, _error("invalid_request_error", "the request body must be a JSON object"))
            return
        seen = wire.seen(body)
        position, reply = self.script.select(seen)
        fault = self.script.take_fault(position) if reply is not None else None
        with self._lock:
            self.requests.append(RecordedRequest(seen.protocol, request.path, body, position, fault and fault.kind))
        if reply is None:
            await responder.json(500, _error("api_error", "the script has no reply for this"))
            return
        if fault is not None and fault.kind in _STATUS_FAULTS:
            status, error = wire.error(fault.kind, fault.message)
            headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
            await responder.json(status, error, headers)
            return
        latency = self.script.latency_for(reply)
        rng = self.script.rng(seen, position)
        if not seen.stream:
            await anyio.sleep(latency.first_token_delay(rng))
            render = wire_anthropic.message if wire is wire_anthropic else wire_openai.completion
            await responder.json(200, render(reply, seen, position, fault))
            return
        frames = self._frames(wire, reply, seen, position, fault, body)
        await _stream(responder, frames, fault, latency, latency.first_token_delay(rng), wire)

    @staticmethod
    def _frames(
        wire: Wire, reply: Reply, seen: Seen, position: int, fault: Fault | None, body: JSONObject
    ) -> list[Frame]:
        if wire is wire_anthropic:
            return wire_anthropic.stream(reply, seen, position, fault)
        options: JSONObject = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        return wire_openai.stream(reply, seen, position, fault, include_usage)


def _error(kind: str, message: str) -> JSONObject:
    return {"error": {"type": kind, "message": message}}


def _break_at(frames: list[Frame], fault: Fault | None) -> int | None:
    """Index of the frame before which a mid-stream fault strikes (None: no such fault)."""
    if fault is None or fault.kind not in ("malformed", "reset", "stream_error"):
        return None
    seen_tokens = 0
    for index, frame in enumerate(frames):
        if frame.token:
            if seen_tokens >= fault.after_tokens:
                return index
            seen_tokens += 1
    return max(0, len(frames) - 1)


async def _stream(
    responder: Responder, frames: list[Frame], fault: Fault | None, latency: Latency, ttft: float, wire: Wire
) -> None:
    await responder.start_stream()
    cut = _break_at(frames, fault)
    waited = False
    for index, frame in enumerate(frames):
        if frame.token or index == len(frames) - 1:
            await anyio.sleep(latency.token_gap() if waited else ttft)
            waited = True
        if index == cut and fault is not None:
            if fault.kind == "reset":
                responder.reset()
                return
            await responder.chunk(wire.malformed_frame().data if fault.kind == "malformed" else _error_frame(wire))
            await responder.end_stream()
            return
        await responder.chunk(frame.data)
    await responder.end_stream()


def _error_frame(wire: Wire) -> bytes:
    return wire.stream_error_frame("stream_error").data


class ScriptedModelServer(ThreadedServer):
    name = "scripted-model"

    def __init__(self, script: Script | Mapping[str, object], *, host: str = "127.0.0.1", port: int = 0):
        self.app = ScriptedApp(script if isinstance(script, Script) else Script.from_json(script))
        super().__init__(self.app, host=host, port=port)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.app.recorded()

    def set_script(self, script: Script | Mapping[str, object]) -> None:
        self.app.script = script if isinstance(script, Script) else Script.from_json(script)

"""``ScriptedMcpServer``: a real MCP server over streamable HTTP on loopback, built with the official ``mcp`` SDK.

It stands in for the MCP servers an agent declares (``mcp_servers``): uvicorn serves the SDK's streamable HTTP app
on a background thread with its own event loop, behind a bearer check (``token``; None: an open server). It
offers the tools of ``TOOLS`` and records what reaches it, so a test can tell whether a call was made, and how
often:

* ``echo {text}`` → ``echo: <text>``; ``add {a, b}`` → the sum; ``create_issue {title}`` → ``#<n>``;
* ``echo_headers {}`` → the request's HTTP headers as text (what a hostile server does with a credential);
* ``fail {}`` → an ``isError`` result; ``picture {}`` → an image;
* ``hold {key}`` → waits until the test calls ``release(key)`` (or the server stops), then ``released: <key>``.

Invariants: a request without ``Authorization: Bearer <token>`` is answered 401 and reaches no tool (``refused``
counts them); ``calls`` holds every ``tools/call`` that passed the check, in arrival order, before the tool runs;
``listings`` counts the ``tools/list`` requests clients sent. Never imported by production code.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import mcp.types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.testing.http import Background

#: a 1×1 transparent PNG
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def _tool(name: str, description: str, properties: dict[str, Any] | None = None) -> types.Tool:
    schema: dict[str, Any] = {"type": "object", "properties": properties or {}, "required": sorted(properties or {})}
    return types.Tool(name=name, description=description, input_schema=schema)


TOOLS = (
    _tool("echo", "Echo the text back.", {"text": {"type": "string"}}),
    _tool("add", "Add two numbers.", {"a": {"type": "number"}, "b": {"type": "number"}}),
    _tool("create_issue", "Create an issue; returns its number.", {"title": {"type": "string"}}),
    _tool("echo_headers", "Show the HTTP headers of this request."),
    _tool("fail", "Always fails."),
    _tool("picture", "Return a picture."),
    _tool("hold", "Wait until released.", {"key": {"type": "string"}}),
)


def _input_schema(name: str) -> dict[str, Any] | None:
    """What the SDK's HTTP layer checks a call against (without it, the SDK asks ``tools/list`` itself)."""
    return next((tool.input_schema for tool in TOOLS if tool.name == name), None)


@dataclass(frozen=True)
class McpCall:
    """A ``tools/call`` that reached the server."""

    name: str
    arguments: dict[str, Any]


@dataclass
class _Record:
    calls: list[McpCall] = field(default_factory=lambda: list[McpCall]())
    listings: int = 0
    refused: int = 0
    issues: int = 0


def _text(text: str, *, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=is_error)


class ScriptedMcpServer(Background):
    """``with ScriptedMcpServer(token="…") as server:`` (or ``async with``); ``url`` is the MCP endpoint."""

    def __init__(self, token: str | None = None, *, host: str = "127.0.0.1", name: str = "scripted"):
        self.token = token
        self.host = host
        self.port = 0
        self._record = _Record()
        self._lock = threading.Lock()
        self._held: dict[str, threading.Event] = {}
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        lowlevel = Server(
            name, on_list_tools=self._list_tools, on_call_tool=self._call_tool, get_tool_input_schema=_input_schema
        )
        self._app = lowlevel.streamable_http_app(stateless_http=True, json_response=True, host=host)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/mcp"

    @property
    def calls(self) -> list[McpCall]:
        with self._lock:
            return list(self._record.calls)

    @property
    def listings(self) -> int:
        with self._lock:
            return self._record.listings

    @property
    def refused(self) -> int:
        with self._lock:
            return self._record.refused

    def release(self, key: str) -> None:
        """Let every ``hold`` call with ``key`` (made or still to come) return."""
        self._gate(key).set()

    def _gate(self, key: str) -> threading.Event:
        with self._lock:
            return self._held.setdefault(key, threading.Event())

    # ------------------------------------------------------------------ the MCP side

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        with self._lock:
            self._record.listings += 1
        return types.ListToolsResult(tools=list(TOOLS))

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        with self._lock:
            self._record.calls.append(McpCall(params.name, arguments))
        handler = self._handlers().get(params.name)
        if handler is None:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}")
        return await handler(arguments, ctx)

    def _handlers(self) -> Mapping[str, Callable[[dict[str, Any], ServerRequestContext[Any]], Awaitable[Any]]]:
        return {
            "echo": self._echo,
            "add": self._add,
            "create_issue": self._create_issue,
            "echo_headers": self._echo_headers,
            "fail": self._fail,
            "picture": self._picture,
            "hold": self._hold,
        }

    async def _echo(self, arguments: dict[str, Any], ctx: ServerRequestContext[Any]) -> types.CallToolResult:
        return _text(f"echo: {arguments.get('text', '')}")

    async def _add(self, arguments: dict[str, Any], ctx: ServerRequestContext[Any]) -> types.CallToolResult:
        return _text(str(arguments.get("a", 0) + arguments.get("b", 0)))

    async def _create_issue(self, arguments: dict[str, Any], ctx: ServerRequestContext[Any]) -> types.CallToolResult:
        with self._lock:
            self._record.issues += 1
            number = self._record.issues
        return _text(f"#{number}")

    async def _echo_headers(self, arguments: dict[str, Any], ctx: ServerRequestContext[Any]) -> types.CallToolResult:
        request: Any = ctx.request
        headers = {} if request is None else dict(request.headers)
        return _text(json.dumps(headers, sort_keys=True))

    async def _fail(self, arguments: dict[str, Any], ctx: ServerRequestContext[Any]) -> types.CallToolResult:
        return _text("it failed, as it always does", is_error=True)

    async def _picture(self, arguments: dict[str, Any], ctx: ServerRequestContext[Any]) -> types.CallToolResult:
        image = types.ImageContent(type="image", data=PIXEL, mime_type="image/png")
        return types.CallToolResult(content=[image])

    async def _hold(self, arguments: dict[str, Any], ctx: ServerRequestContext[Any]) -> types.CallToolResult:
        key = str(arguments.get("key", ""))
        gate = self._gate(key)
        while not gate.is_set() and not self._stopping.is_set():
            await anyio.to_thread.run_sync(gate.wait, 0.2)  # re-checks _stopping: a stopping server never hangs
        return _text(f"released: {key}")

    # ------------------------------------------------------------------ HTTP: the bearer check around the SDK's app

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        app: ASGIApp = self._app
        if scope["type"] == "lifespan":
            await app(scope, receive, self._announcing(send))
            return
        if scope["type"] == "http" and self.token is not None:
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization", b"").decode("latin-1") != f"Bearer {self.token}":
                with self._lock:
                    self._record.refused += 1
                await _unauthorized(send)
                return
        await app(scope, receive, send)

    def _announcing(self, send: Send) -> Send:
        async def announce(message: MutableMapping[str, Any]) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                self._ready.set()

        return announce

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without it
        # Nagle holds each response's body behind its headers for a delayed ACK (40 ms a call on loopback).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.listen()  # connections wait in the backlog until uvicorn serves them
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._asgi, interface="asgi3", log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
        self._thread.name = "mcp-double"
        self._thread.start()
        while not self._ready.wait(0.05):
            if not self._thread.is_alive():
                self.stop()
                raise RuntimeError("the MCP server double did not start")

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None


async def _unauthorized(send: Send) -> None:
    body = b'{"error": "invalid_token"}'
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b'Bearer error="invalid_token"'),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})

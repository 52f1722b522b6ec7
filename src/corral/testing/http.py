"""A small HTTP/1.1 server on asyncio streams, with the control a fault-injecting double needs.

Why not uvicorn: a scripted model server must be able to break a response on purpose (reset the
connection mid-stream with a TCP RST, send a malformed body) and to pace every chunk; a few lines over
``asyncio.start_server`` give exactly that. Supports keep-alive, ``Content-Length`` request bodies and
chunked streaming responses. Loopback test traffic only; not a general-purpose server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus

MAX_BODY = 64 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body or b"null")


class Responder:
    """Writes one response. ``keep_alive`` turns false when the response ends the connection."""

    def __init__(self, writer: asyncio.StreamWriter):
        self._writer = writer
        self.keep_alive = True

    async def send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        head = self._head(status, {"content-type": content_type, "content-length": str(len(body)), **(headers or {})})
        self._writer.write(head + body)
        await self._writer.drain()

    async def json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        await self.send(status, json.dumps(body).encode(), "application/json", headers)

    async def start_stream(
        self, content_type: str = "text/event-stream", headers: dict[str, str] | None = None
    ) -> None:
        fields = {"content-type": content_type, "transfer-encoding": "chunked", "cache-control": "no-cache"}
        self._writer.write(self._head(200, {**fields, **(headers or {})}))
        await self._writer.drain()

    async def chunk(self, data: bytes) -> None:
        if data:
            self._writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await self._writer.drain()

    async def end_stream(self) -> None:
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()

    def reset(self) -> None:
        """Drop the connection with a TCP RST (what a crashed or overloaded proxy does mid-response)."""
        self.keep_alive = False
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if not self.keep_alive:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


Handler = Callable[[Request, Responder], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        line = await reader.readline()
        if not line:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            return None
        body = await reader.readexactly(length) if length else b""
    except (ValueError, asyncio.IncompleteReadError, ConnectionError):
        return None
    return Request(method.upper(), target.split("?", 1)[0], headers, body)


class Connections:
    """Serves each accepted connection with ``handler``; ``close`` ends them all and waits for their tasks."""

    def __init__(self, handler: Handler):
        self._handler = handler
        self._open: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._open[task] = writer
        try:
            while (request := await _read_request(reader)) is not None:
                responder = Responder(writer)
                if request.headers.get("connection", "").lower() == "close":
                    responder.keep_alive = False
                await self._handler(request, responder)
                if not responder.keep_alive:
                    break
        except ConnectionError:
            pass
        finally:
            self._open.pop(task, None)
            if not writer.transport.is_closing():
                writer.close()

    async def close(self) -> None:
        tasks = list(self._open)
        for writer in self._open.values():
            writer.transport.abort()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

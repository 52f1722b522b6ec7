"""A small HTTP/1.1 server on asyncio streams, with the control a fault-injecting double needs.

Why not uvicorn: a scripted model server must be able to break a response on purpose (reset the
connection mid-stream with a TCP RST, send a malformed body) and to pace every chunk; a few lines over
``asyncio.start_server`` give exactly that. Supports keep-alive, ``Content-Length`` and chunked request bodies and
chunked streaming responses. Loopback test traffic only; not a general-purpose server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Self

import anyio
import anyio.to_thread

MAX_BODY = 64 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    #: the query string (after ``?``), undecoded
    query: str = ""

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


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked request body (what git sends for a large push); ``ValueError`` past ``MAX_BODY``."""
    body = bytearray()
    while (size := int((await reader.readline()).split(b";")[0].strip(), 16)) > 0:
        if len(body) + size > MAX_BODY:
            raise ValueError("request body too large")
        body += await reader.readexactly(size)
        await reader.readline()
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):  # trailers
        pass
    return bytes(body)


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
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            length = int(headers.get("content-length", "0"))
            if length > MAX_BODY:
                return None
            body = await reader.readexactly(length) if length else b""
    except (ValueError, asyncio.IncompleteReadError, ConnectionError):
        return None
    path, _, query = target.partition("?")
    return Request(method.upper(), path, headers, body, query)


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


async def serve(handler: Handler, host: str, port: int, ready: Callable[[int], None], stop: anyio.Event) -> None:
    """Serve ``handler`` on ``host:port`` until ``stop`` is set; ``ready(port)`` once listening."""
    connections = Connections(handler)
    server = await asyncio.start_server(connections, host, port)
    try:
        ready(int(server.sockets[0].getsockname()[1]))
        await stop.wait()
    finally:
        server.close()  # no new connections; those just accepted get a moment to register before all close
        await anyio.sleep(0.01)
        await connections.close()


class Background(ABC):
    """A server that runs on a thread of its own: ``with`` / ``async with`` start and stop it (``start`` and
    ``stop`` block, so the async forms run them in a worker thread)."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await anyio.to_thread.run_sync(self.stop)


class ThreadedServer(Background):
    """A loopback server on a background thread with its own event loop (it never competes with the code under
    test): ``with Server(...) as server:`` or ``async with``; ``url`` once started."""

    name = "loopback"

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0):
        self.handler = handler
        self.host = host
        self.port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: anyio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name=self.name, daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError(f"the {self.name} server did not start")

    def _run(self, started: threading.Event) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = anyio.Event()

            def ready(port: int) -> None:
                self.port = port
                started.set()

            await serve(self.handler, self.host, self.port, ready, self._stop)

        anyio.run(main)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
        self._thread = self._loop = None

"""The control protocol between corral's side (``EgressClient``) and the proxy (``EgressServer``).

One JSON object per line each way over a unix stream socket. Requests:

* ``{"op": "open", "channel", "networking", "session", "injections", "repositories"}`` with the channel's
  **listening socket attached** (``SCM_RIGHTS``): the proxy serves connections accepted on it; an open naming a
  channel the proxy already serves on the same socket only updates it (so replaying every channel to a proxy is
  harmless, and re-sending one is how its credentials are refreshed);
* ``{"op": "assign", "channel", "session"}``, ``{"op": "close", "channel"}``, ``{"op": "ping"}`` (answered
  with the ids of the channels served).

Answers: ``{"ok": true, …}`` or ``{"ok": false, "error": "…"}``.

Invariants: a request is answered before the next one is read, so a descriptor belongs to the line it arrived
with; a line longer than ``MAX_LINE`` ends the connection; descriptors nobody took are closed.
"""

from __future__ import annotations

import json
import os
import socket

from anyio.abc import UNIXSocketStream

from corral._types import JSONObject, json_object

MAX_LINE = 1024 * 1024
_MAX_FDS = 4


class ProtocolError(Exception):
    """The peer broke the protocol (a line too long, not JSON, not an object)."""


def encode(message: JSONObject) -> bytes:
    return json.dumps(message).encode() + b"\n"


def decode(line: bytes) -> JSONObject:
    try:
        found = json_object(json.loads(line))
    except ValueError as exc:
        raise ProtocolError(f"not a JSON request: {exc}") from exc
    if found is None:
        raise ProtocolError("a request must be a JSON object")
    return found


def close_fds(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class LineReader:
    """Lines, with the descriptors that arrived alongside them, from a unix stream socket."""

    def __init__(self, stream: UNIXSocketStream) -> None:
        self.stream = stream
        self._buffer = bytearray()
        self._fds: list[int] = []

    async def receive(self) -> tuple[bytes, list[int]]:
        """The next line (without its newline) and the descriptors sent with it; ``anyio.EndOfStream`` at the end."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise ProtocolError(f"a control line is longer than {MAX_LINE} bytes")
            data, fds = await self.stream.receive_fds(1 << 16, _MAX_FDS)
            self._buffer += data
            self._fds += fds
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        fds, self._fds = self._fds, []
        return line, fds

    def discard(self) -> None:
        close_fds(self._fds)
        self._fds = []


def listening_unix_socket(fd: int) -> socket.socket:
    """``fd`` as a socket object, if it is a listening unix stream socket (``ValueError`` otherwise)."""
    sock = socket.socket(fileno=fd)
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM or not listening:
        sock.close()
        raise ValueError("the attached descriptor is not a listening unix stream socket")
    sock.setblocking(False)
    return sock

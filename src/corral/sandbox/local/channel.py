"""The host end of the agent protocol over the sandbox process's stdin and stdout (see ``agent.main``):
length-prefixed ``marshal`` frames to the agent, JSON lines back.

A sandbox tool call becomes the agent operation that implements it (``OPERATIONS``), labelled with the tool's
name for the agent's error messages. Requests carry increasing ids; ``serve`` reads replies and hands each to
the call waiting for it, so calls may overlap. Everything read is untrusted (code in the sandbox could corrupt
the stream): a line longer than ``max_line`` bytes, or one that is not a JSON object, closes the channel, which
fails every waiting call.

Invariants: once ``closed`` is set, no call waits forever; ``call`` then returns None. A call that is cancelled
(the user interrupted the turn) is cancelled in the agent too, so nothing it started keeps running.
"""

from __future__ import annotations

import json
import marshal
from typing import cast

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream
from anyio.streams.buffered import BufferedByteReceiveStream

from corral._types import JSONObject
from corral.vocab.tools import BASH, EDIT, GLOB, GREP, READ, WRITE, SandboxToolName

OPERATIONS: dict[SandboxToolName, str] = {
    BASH: "shell",
    READ: "read_file",
    WRITE: "write_file",
    EDIT: "edit_file",
    GLOB: "find_files",
    GREP: "search_files",
}
"""The in-sandbox agent's operation for each sandbox tool (the agent cannot import corral's vocabulary)."""


#: how long telling the agent to cancel a call may take before the channel is given up as stuck
CANCEL_SECONDS = 5.0


class ChannelClosed(Exception):
    pass


class _Waiter:
    def __init__(self) -> None:
        self.event = anyio.Event()
        self.reply: JSONObject | None = None


class AgentChannel:
    def __init__(self, send: ByteSendStream, receive: ByteReceiveStream, max_line: int) -> None:
        self._send = send
        self._receive = BufferedByteReceiveStream(receive)
        self._max_line = max_line
        self._waiters: dict[int, _Waiter] = {}
        self._next_id = 0
        self._send_lock = anyio.Lock()
        self.closed = anyio.Event()

    async def send(self, message: JSONObject) -> None:
        """One frame: 4-byte big-endian length, then ``marshal`` (the agent decodes it without any import)."""
        data = marshal.dumps(message)
        async with self._send_lock:
            await self._send.send(len(data).to_bytes(4, "big") + data)

    async def receive(self) -> JSONObject:
        """One message (only before ``serve`` runs: the start-up handshake)."""
        line = await self._receive.receive_until(b"\n", self._max_line)
        message: object = json.loads(line)
        if not isinstance(message, dict):
            raise ChannelClosed("the sandbox agent sent something other than a JSON object")
        return cast(JSONObject, message)  # a JSON object: its keys are strings

    async def call(self, tool: SandboxToolName, tool_input: JSONObject, tool_timeout: float) -> JSONObject | None:
        if self.closed.is_set():
            return None
        self._next_id += 1
        request_id, waiter = self._next_id, _Waiter()
        self._waiters[request_id] = waiter
        try:
            request = {"op": OPERATIONS[tool], "label": tool, "input": tool_input, "timeout": tool_timeout}
            await self.send({"id": request_id, **request})
            await waiter.event.wait()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            self.close()
        except anyio.get_cancelled_exc_class():
            await self._cancel(request_id)
            raise
        finally:
            del self._waiters[request_id]
        return waiter.reply

    async def _cancel(self, request_id: int) -> None:
        """Tell the agent that nobody waits for ``request_id`` any more: it stops the call (a running command
        with its process group) or never starts it. Best effort and bounded: a stuck channel is closed."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_SECONDS) as scope:
            try:
                await self.send({"op": "cancel", "target": request_id})
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                self.close()
        if scope.cancelled_caught:
            self.close()

    async def serve(self) -> None:
        """Route replies until the stream ends or misbehaves; then close."""
        try:
            while True:
                message = await self.receive()
                request_id = message.get("id")
                waiter = self._waiters.get(request_id) if type(request_id) is int else None
                if waiter is not None:
                    waiter.reply = message
                    waiter.event.set()
        except (
            anyio.EndOfStream,
            anyio.IncompleteRead,
            anyio.DelimiterNotFound,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
        ):
            pass
        except (ValueError, ChannelClosed):
            pass  # garbage on the channel: the sandbox is not to be trusted any more
        finally:
            self.close()

    def close(self) -> None:
        self.closed.set()
        for waiter in self._waiters.values():
            waiter.event.set()

"""``EgressClient``: the sandbox provider's side of the egress control socket (an ``EgressGateway``).

Protocol: one JSON object per line each way; requests ``{"op": "open" | "assign" | "close", "channel", …}``,
answers ``{"ok": true, …}`` or ``{"ok": false, "error"}``.

Invariant: requests are serialised over one connection, re-opened once if the proxy restarted (a proxy still
starting is waited for up to ``connect_timeout``); a refusal or an unreachable proxy is a ``SandboxError``
(the sandbox cannot get its network).
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from corral._types import JSONObject, json_object
from corral.errors import ErrorCode, SandboxError
from corral.sandbox.network import EgressChannel, EgressGateway

_MAX_LINE = 1024 * 1024
_DIAL_STEP = 0.1


class EgressClient(EgressGateway):
    def __init__(self, control_path: Path, *, connect_timeout: float = 5.0) -> None:
        """``connect_timeout``: how long the first request waits for a proxy that is still starting."""
        self.control_path = control_path
        self.connect_timeout = connect_timeout
        self._stream: SocketStream | None = None
        self._receive: BufferedByteReceiveStream | None = None
        self._lock = anyio.Lock()

    async def _connect(self) -> tuple[SocketStream, BufferedByteReceiveStream]:
        if self._stream is None or self._receive is None:
            self._stream = await self._dial()
            self._receive = BufferedByteReceiveStream(self._stream)
        return self._stream, self._receive

    async def _dial(self) -> SocketStream:
        steps = max(1, int(self.connect_timeout / _DIAL_STEP))
        for attempt in range(steps):
            try:
                return await anyio.connect_unix(self.control_path)
            except OSError:
                if attempt == steps - 1:
                    raise
                await anyio.sleep(_DIAL_STEP)
        raise AssertionError("unreachable")

    async def _exchange(self, message: JSONObject) -> object:
        stream, receive = await self._connect()
        await stream.send(json.dumps(message).encode() + b"\n")
        return json.loads(await receive.receive_until(b"\n", _MAX_LINE))

    async def _request(self, message: JSONObject) -> JSONObject:
        async with self._lock:
            try:
                reply = await self._exchange(message)
            except (OSError, anyio.EndOfStream, anyio.BrokenResourceError, anyio.IncompleteRead):
                await self.aclose()
                try:
                    reply = await self._exchange(message)
                except (OSError, anyio.EndOfStream, anyio.BrokenResourceError, anyio.IncompleteRead) as exc:
                    raise SandboxError(
                        f"sandbox: the egress proxy is unreachable ({exc})", code=ErrorCode.SANDBOX_PROVISION_FAILED
                    ) from exc
        answer = json_object(reply)
        if answer is None or answer.get("ok") is not True:
            error = answer.get("error") if answer is not None else reply
            raise SandboxError(f"sandbox: the egress proxy refused: {error}", code=ErrorCode.SANDBOX_PROVISION_FAILED)
        return answer

    async def open(self, channel_id: str, networking: JSONObject, session_id: str | None) -> EgressChannel:
        reply = await self._request(
            {"op": "open", "channel": channel_id, "networking": networking, "session": session_id}
        )
        return EgressChannel(channel_id, str(reply["socket"]))

    async def assign(self, channel_id: str, session_id: str) -> None:
        await self._request({"op": "assign", "channel": channel_id, "session": session_id})

    async def close(self, channel_id: str) -> None:
        await self._request({"op": "close", "channel": channel_id})

    async def aclose(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()
        self._stream = self._receive = None

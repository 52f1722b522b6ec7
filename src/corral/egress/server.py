"""The egress proxy: mitmproxy on loopback, a control socket, and the sandboxes' channel sockets it is handed.

An ``EgressServer`` runs mitmproxy (regular forward-proxy mode, ``127.0.0.1`` and an ephemeral port, TLS passed
through) with ``EgressAddon``, and serves its control socket (``control``: the protocol ``EgressClient``
speaks). Each ``open`` hands it a sandbox's listening unix socket; every connection accepted there is bridged
into mitmproxy, under the channel's cap (``max_connections`` at once, the rest closed at the door). In
production it runs in a process of its own (``corral.egress.__main__``, started and restarted by
``EgressSupervisor``), handed its control socket; tests and benchmarks also run it in-process, where it
creates ``control.sock`` in ``socket_dir`` itself.

Invariants: the proxy's TCP port serves only bridged connections (anything else is refused by the addon); no
accept error stops it (``accept``); channel sockets are owned by corral's side, so a restarted proxy serves
the same sockets sandboxes already have; the test-only ``AddressGuard.exempt`` is reachable only by
constructing the server in code, never from configuration.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import cast

import anyio
import anyio.to_thread
from anyio.abc import ByteStream, SocketAttribute, SocketStream, TaskGroup, TaskStatus, UNIXSocketStream

from corral._types import JSONObject
from corral.egress import accept, control, injection, repositories
from corral.egress.accept import Slots
from corral.egress.addon import EgressAddon, RequestHook
from corral.egress.channels import Channel, Channels
from corral.egress.injection import Injection
from corral.egress.layout import CONTROL
from corral.egress.mitm import Embedded
from corral.egress.policy import AddressGuard, HostPolicy
from corral.egress.repositories import RepositoryToken

log = logging.getLogger("corral.egress")
MAX_CONNECTIONS = 64
Hold = Callable[[], Awaitable[None]]
_CONTROL_CONNECTIONS = 8


async def _pump(source: ByteStream, sink: ByteStream) -> None:
    try:
        async for chunk in source:
            await sink.send(chunk)
        await sink.send_eof()
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass


class EgressServer:
    def __init__(
        self,
        socket_dir: Path | None,
        confdir: Path,
        *,
        guard: AddressGuard | None = None,
        hooks: Sequence[RequestHook] = (),
        max_connections: int = MAX_CONNECTIONS,
        control_socket: socket.socket | None = None,
        upstream_ca: Path | None = None,
    ) -> None:
        """``control_socket``: a listening unix socket to serve (None: create ``socket_dir/control.sock``, and
        remove it when done); ``upstream_ca``: certificates trusted for intercepted upstreams instead of the
        system's (tests: their loopback TLS servers)."""
        self.socket_dir = socket_dir
        self.confdir = confdir
        self.max_connections = max_connections
        self.channels = Channels()
        self.addon = EgressAddon(self.channels, guard or AddressGuard(), hooks)
        self.proxy_port = 0
        self._control_socket = control_socket
        self._upstream_ca = upstream_ca
        self._tasks: TaskGroup | None = None

    @property
    def control_path(self) -> Path:
        if self.socket_dir is None:
            raise RuntimeError("this egress server serves a control socket it was handed, at no path of its own")
        return self.socket_dir / CONTROL

    def _remove_dirs(self) -> None:
        """Leave no sockets behind; remove the socket dir and its parent when nothing else is in them."""
        self.control_path.unlink(missing_ok=True)
        for directory in (self.control_path.parent, self.control_path.parent.parent):
            try:
                directory.rmdir()
            except OSError:
                break

    def _make_dirs(self) -> None:
        self.control_path.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.control_path.parent.chmod(0o711)
        self.confdir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _listen(self) -> socket.socket:
        self._make_dirs()
        self.control_path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.control_path))
        self.control_path.chmod(0o600)
        sock.listen(64)
        sock.setblocking(False)
        return sock

    async def serve(
        self, *, hold: Hold | None = None, task_status: TaskStatus[EgressServer] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until cancelled; ``hold``, if given, is awaited once mitmproxy listens, before the control socket
        is served (a proxy in standby)."""
        listener = self._control_socket or await anyio.to_thread.run_sync(self._listen)
        mitm = Embedded(self.addon, self.confdir, self._upstream_ca)
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            await tasks.start(mitm.run)
            self.proxy_port = mitm.port
            try:  # mitmproxy is stopped however this ends, in standby too (it does not end on cancellation)
                if hold is not None:
                    await hold()
                tasks.start_soon(self._serve_control, listener)
                task_status.started(self)
                await anyio.sleep_forever()
            finally:
                for channel in list(self.channels.by_id.values()):
                    self.close_channel(channel.channel_id)
                await mitm.stop()
                if self._control_socket is None:
                    self._remove_dirs()

    async def _serve_control(self, listener: socket.socket) -> None:
        with listener:
            await accept.serve(listener, self._control, Slots(_CONTROL_CONNECTIONS), "control")

    async def open_channel(
        self,
        channel_id: str,
        networking: JSONObject | None,
        session_id: str | None,
        fd: int,
        injections: tuple[Injection, ...] = (),
        tokens: tuple[RepositoryToken, ...] = (),
    ) -> Channel:
        """Serve the listening socket ``fd`` (taken over, closed on failure) as channel ``channel_id``."""
        if self._tasks is None or not channel_id.replace("-", "").isalnum():
            control.close_fds([fd])
            raise ValueError(f"invalid channel id {channel_id!r}" if self._tasks else "the egress is not running")
        sock = control.listening_unix_socket(fd)
        inode = os.fstat(sock.fileno()).st_ino
        policy = HostPolicy.from_networking(networking)
        current = self.channels.by_id.get(channel_id)
        if current is not None and current.socket_inode == inode:  # a replay: the same socket, still served
            current.policy, current.session_id, current.injections = policy, session_id, injections
            current.repositories = tokens
            sock.close()
            return current
        self.close_channel(channel_id)
        slots = Slots(self.max_connections)
        channel = Channel(channel_id, policy, session_id, slots, inode, injections=injections, repositories=tokens)
        self.channels.by_id[channel_id] = channel
        self._tasks.start_soon(self._serve_channel, channel, sock)
        return channel

    def assign(self, channel_id: str, session_id: str) -> None:
        self.channels.by_id[channel_id].session_id = session_id

    def close_channel(self, channel_id: str) -> None:
        channel = self.channels.by_id.pop(channel_id, None)
        if channel is not None:
            channel.scope.cancel()

    async def _serve_channel(self, channel: Channel, listener: socket.socket) -> None:
        with channel.scope, listener:
            await accept.serve(listener, partial(self._bridge, channel), channel.slots, channel.channel_id)
        if self.channels.by_id.get(channel.channel_id) is channel:  # its socket is gone: forget the channel
            del self.channels.by_id[channel.channel_id]

    async def _bridge(self, channel: Channel, client: ByteStream) -> None:
        async with client:
            try:
                upstream = await anyio.connect_tcp("127.0.0.1", self.proxy_port)
            except OSError as exc:
                log.warning("egress channel %s: the proxy is not reachable (%s)", channel.channel_id, exc)
                return
            port = upstream.extra(SocketAttribute.local_port)
            self.channels.register_peer(port, channel)
            try:
                async with upstream, anyio.create_task_group() as pumps:
                    pumps.start_soon(_pump, client, upstream)
                    pumps.start_soon(_pump, upstream, client)
            finally:
                self.channels.drop_peer(port)

    async def _control(self, stream: SocketStream) -> None:
        if not isinstance(stream, UNIXSocketStream):
            await stream.aclose()
            return
        reader = control.LineReader(stream)
        try:
            while True:
                line, fds = await reader.receive()
                try:
                    reply = await self._command(control.decode(line), fds)
                finally:
                    control.close_fds(fds)  # every descriptor a command did not take
                await stream.send(control.encode(reply))
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, control.ProtocolError):
            pass
        finally:
            reader.discard()
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def _command(self, message: JSONObject, fds: list[int]) -> JSONObject:
        try:
            op = message.get("op")
            if op == "ping":
                return {"ok": True, "channels": sorted(self.channels.by_id)}
            channel_id = str(message["channel"])
            if op == "open":
                if len(fds) != 1:
                    return {"ok": False, "error": "open needs the channel's listening socket attached"}
                networking = message.get("networking")
                session = message.get("session")
                injections = injection.parse_all(message.get("injections"))
                tokens = repositories.parse_all(message.get("repositories"))
                await self.open_channel(
                    channel_id,
                    cast(JSONObject, networking) if isinstance(networking, dict) else None,
                    session if isinstance(session, str) else None,
                    fds.pop(),
                    injections,
                    tokens,
                )
            elif op == "assign":
                self.assign(channel_id, str(message["session"]))
            elif op == "close":
                self.close_channel(channel_id)
            else:
                return {"ok": False, "error": f"unknown op {op!r}"}
            return {"ok": True}
        except (KeyError, TypeError, ValueError, OSError) as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


@asynccontextmanager
async def running_egress(server: EgressServer, hold: Hold | None = None) -> AsyncGenerator[EgressServer]:
    """Run ``server`` for the duration of the block (``hold``: see ``EgressServer.serve``)."""
    async with anyio.create_task_group() as tasks:
        await tasks.start(partial(server.serve, hold=hold))
        try:
            yield server
        finally:
            tasks.cancel_scope.cancel()

"""The egress proxy process: mitmproxy on loopback, one unix socket per sandbox, and a control socket.

``corral egress`` runs an ``EgressServer``: mitmproxy (regular forward-proxy mode, ``127.0.0.1`` and an
ephemeral port, TLS passed through) with ``EgressAddon``; a control socket (``control.sock``, root-only)
through which sandbox providers open, assign and close channels (``EgressClient``); and, per channel, a unix
socket whose connections are bridged into mitmproxy.

Invariants: the proxy's TCP port serves only bridged connections (anything else is refused by the addon);
channel sockets are created mode 0600 (the provider hands them to the sandbox's uid); the test-only
``AddressGuard.exempt`` is reachable only by constructing the server in code, never from configuration.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.to_thread
from anyio.abc import ByteStream, SocketAttribute, TaskGroup, TaskStatus
from anyio.streams.buffered import BufferedByteReceiveStream
from mitmproxy import options

from corral._types import JSONObject
from corral.egress.addon import EgressAddon, RequestHook
from corral.egress.channels import Channel, Channels
from corral.egress.policy import AddressGuard, HostPolicy
from corral.sandbox.runtime import egress_socket_dir

with warnings.catch_warnings():
    # mitmproxy.addons imports ldap3, which touches pyasn1 names deprecated in pyasn1 0.6 (not our code to fix)
    warnings.simplefilter("ignore", DeprecationWarning)
    from mitmproxy.addons import core, disable_h2c, next_layer, proxyserver, tlsconfig
    from mitmproxy.master import Master

log = logging.getLogger("corral.egress")
CONTROL = "control.sock"
_MAX_CONTROL_LINE = 1024 * 1024


class _Ready:
    def __init__(self) -> None:
        self.event = anyio.Event()

    def running(self) -> None:
        self.event.set()


async def _drained(server: Any, seconds: float = 5.0) -> None:
    """Wait (shielded) until mitmproxy has torn down every connection the closed channels carried."""
    with anyio.CancelScope(shield=True):
        for _ in range(int(seconds / 0.01)):
            if not server.connections:
                return
            await anyio.sleep(0.01)


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
        socket_dir: Path,
        confdir: Path,
        *,
        guard: AddressGuard | None = None,
        hooks: Sequence[RequestHook] = (),
    ) -> None:
        self.socket_dir = socket_dir
        self.confdir = confdir
        self.channels = Channels()
        self.addon = EgressAddon(self.channels, guard or AddressGuard(), hooks)
        self.proxy_port = 0
        self._tasks: TaskGroup | None = None

    @property
    def control_path(self) -> Path:
        return self.socket_dir / CONTROL

    def _master(self) -> tuple[Master, _Ready]:
        master = Master(options.Options())
        ready = _Ready()
        # mitmproxy's addon registry and options are untyped (``*args``/``**kwargs``): reached through ``Any``
        registry: Any = master.addons
        registry.add(core.Core(), proxyserver.Proxyserver(), next_layer.NextLayer(), tlsconfig.TlsConfig())
        registry.add(disable_h2c.DisableH2C(), self.addon, ready)
        settings: Any = master.options
        settings.update(
            listen_host="127.0.0.1",
            listen_port=0,
            connection_strategy="lazy",
            stream_large_bodies="1m",
            confdir=str(self.confdir),
        )
        return master, ready

    def _remove_dirs(self) -> None:
        """Leave no sockets behind; remove the socket dir and its parent when nothing else is in them."""
        self.control_path.unlink(missing_ok=True)
        for directory in (self.socket_dir, self.socket_dir.parent):
            try:
                directory.rmdir()
            except OSError:
                break

    def _make_dirs(self) -> None:
        self.socket_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.socket_dir.chmod(0o711)
        self.confdir.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def serve(self, *, task_status: TaskStatus[EgressServer] = anyio.TASK_STATUS_IGNORED) -> None:
        await anyio.to_thread.run_sync(self._make_dirs)
        master, ready = self._master()
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            tasks.start_soon(self._run_master, master)
            with anyio.fail_after(30):
                await ready.event.wait()
            server = _proxy_server(master)
            self.proxy_port = int(server.listen_addrs()[0][1])
            control = await self._listen(self.control_path)
            tasks.start_soon(self._serve, control, self._control)
            task_status.started(self)
            try:
                await anyio.sleep_forever()
            finally:
                for channel in list(self.channels.by_id.values()):
                    self.close_channel(channel.channel_id)
                await _drained(server)
                master.shutdown()
                self._remove_dirs()

    async def _run_master(self, master: Master) -> None:
        """mitmproxy runs until ``shutdown()``, never cut short; its listener is closed first (mitmproxy itself
        leaves that to the end of the process)."""
        with anyio.CancelScope(shield=True):
            try:
                await master.run()
            finally:
                await _proxy_server(master).servers.update([])

    async def _listen(self, path: Path) -> Any:
        await anyio.to_thread.run_sync(partial(path.unlink, missing_ok=True))
        listener = await anyio.create_unix_listener(path)
        await anyio.to_thread.run_sync(path.chmod, 0o600)
        return listener

    async def open_channel(self, channel_id: str, networking: JSONObject | None, session_id: str | None) -> Channel:
        if self._tasks is None:
            raise RuntimeError("the egress server is not running")
        if channel_id in self.channels.by_id or not channel_id.replace("-", "").isalnum():
            raise ValueError(f"invalid or duplicate channel id {channel_id!r}")
        path = self.socket_dir / f"{channel_id}.sock"
        channel = Channel(channel_id, HostPolicy.from_networking(networking), session_id, path)
        listener = await self._listen(path)
        self.channels.by_id[channel_id] = channel
        self._tasks.start_soon(self._serve_channel, channel, listener)
        return channel

    def assign(self, channel_id: str, session_id: str) -> None:
        self.channels.by_id[channel_id].session_id = session_id

    def close_channel(self, channel_id: str) -> None:
        channel = self.channels.by_id.pop(channel_id, None)
        if channel is not None:
            channel.scope.cancel()
            channel.socket_path.unlink(missing_ok=True)

    async def _serve_channel(self, channel: Channel, listener: Any) -> None:
        with channel.scope:
            await self._serve(listener, partial(self._bridge, channel))

    async def _serve(self, listener: Any, handler: Callable[[ByteStream], Awaitable[None]]) -> None:
        async with listener:
            await listener.serve(handler)

    async def _bridge(self, channel: Channel, client: ByteStream) -> None:
        async with client:
            try:
                upstream = await anyio.connect_tcp("127.0.0.1", self.proxy_port)
            except OSError:
                log.exception("egress channel %s: the proxy is not reachable", channel.channel_id)
                return
            port = upstream.extra(SocketAttribute.local_port)
            self.channels.register_peer(port, channel)
            try:
                async with upstream, anyio.create_task_group() as pumps:
                    pumps.start_soon(_pump, client, upstream)
                    pumps.start_soon(_pump, upstream, client)
            finally:
                self.channels.drop_peer(port)

    async def _control(self, stream: ByteStream) -> None:
        receive = BufferedByteReceiveStream(stream)
        try:
            while True:
                line = await receive.receive_until(b"\n", _MAX_CONTROL_LINE)
                try:
                    reply = await self._command(json.loads(line))
                except ValueError as exc:
                    reply = {"ok": False, "error": f"not a JSON request: {exc}"}
                await stream.send(json.dumps(reply).encode() + b"\n")
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, anyio.DelimiterNotFound):
            pass
        finally:
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def _command(self, message: Any) -> JSONObject:
        try:
            op, channel_id = message["op"], str(message["channel"])
            if op == "open":
                channel = await self.open_channel(channel_id, message.get("networking"), message.get("session"))
                return {"ok": True, "socket": str(channel.socket_path)}
            if op == "assign":
                self.assign(channel_id, str(message["session"]))
            elif op == "close":
                self.close_channel(channel_id)
            else:
                return {"ok": False, "error": f"unknown op {op!r}"}
            return {"ok": True}
        except (KeyError, TypeError, ValueError, OSError) as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


@asynccontextmanager
async def running_egress(server: EgressServer) -> AsyncGenerator[EgressServer]:
    """Run ``server`` for the duration of the block."""
    async with anyio.create_task_group() as tasks:
        await tasks.start(server.serve)
        try:
            yield server
        finally:
            tasks.cancel_scope.cancel()


def state_paths(data_dir: Path) -> tuple[Path, Path]:
    """(socket dir, mitmproxy confdir) for a data dir."""
    return egress_socket_dir(data_dir), data_dir.resolve() / "egress" / "mitmproxy"


def _proxy_server(master: Master) -> proxyserver.Proxyserver:
    """mitmproxy's listener addon (its registry is untyped)."""
    registry: Any = master.addons
    return cast(proxyserver.Proxyserver, registry.get("proxyserver"))

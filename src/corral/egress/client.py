"""``EgressClient``: corral's side of the egress (an ``EgressGateway``), and the owner of every channel socket.

``open`` creates the sandbox's listening unix socket itself (``<socket_dir>/<channel>.sock``, mode 0600; the
provider hands it to the sandbox's uid) and hands it to the proxy over the control socket (``control``). The
client keeps every open channel, so a proxy that restarted is given them all again (``resync``): the sockets
sandboxes have bind-mounted never change, and connections made while the proxy was away wait in their
backlog.

Invariants: requests are serialised over one connection, each answered within ``reply_timeout`` or failed
with a ``SandboxError`` naming the cause (the sandbox cannot get its network; a tool call fails within
seconds, it never hangs); with a supervisor (``Readiness``), a request first waits for the proxy to be up,
and fails at once when it keeps failing to start; ``close`` shuts the socket down first, so the channel
refuses new connections whatever the proxy does, then tells the proxy if it can, never waiting long.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread
from anyio.abc import UNIXSocketStream

from corral._types import JSONObject, json_list
from corral.egress import bundle, control
from corral.egress.credentials import Placeholders, SecretSource, SessionCredential, repository_tokens
from corral.egress.injection import Injection
from corral.egress.policy import HostPolicy
from corral.egress.repositories import RepositoryToken
from corral.errors import ErrorCode, SandboxError
from corral.sandbox.network import EgressChannel, EgressGateway

log = logging.getLogger("corral.egress")
_DIAL_STEP = 0.1
_NOTIFY_SECONDS = 2.0
BACKLOG = 256
_BROKEN = (OSError, anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, control.ProtocolError)


class Readiness(Protocol):
    """What a supervisor of the proxy process tells the client."""

    @property
    def generation(self) -> int:
        """Increases with every start of the proxy process."""
        ...

    @property
    def control_path(self) -> Path:
        """Where the control socket is (fixed once the supervisor runs)."""
        ...

    async def wait_ready(self) -> None:
        """Return once the proxy serves; ``SandboxError`` if it is not running and will not be soon."""
        ...


@dataclass
class _Record:
    channel_id: str
    networking: JSONObject
    session_id: str | None
    listener: socket.socket
    path: Path
    placeholders: Placeholders = field(default_factory=Placeholders)
    #: the proxy was last given repository tokens for this channel (a refresh must tell it they are gone)
    repositories: bool = False

    def message(self, injections: Sequence[Injection] = (), tokens: Sequence[RepositoryToken] = ()) -> JSONObject:
        found: JSONObject = {"op": "open", "channel": self.channel_id, "networking": self.networking}
        found |= {"session": self.session_id, "injections": [i.message() for i in injections]}
        return found | {"repositories": [t.message() for t in tokens]}


def unreachable(reason: str) -> SandboxError:
    return SandboxError(f"sandbox: the egress proxy is unreachable ({reason})", code=ErrorCode.SANDBOX_PROVISION_FAILED)


def _listen(path: Path) -> socket.socket:
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _discard(listener: socket.socket, path: Path) -> None:
    """Refuse new connections at once (also through the proxy's copy of the socket), then let go of it."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    listener.close()
    path.unlink(missing_ok=True)


class EgressClient(EgressGateway):
    def __init__(
        self,
        control_path: Path,
        *,
        connect_timeout: float = 5.0,
        reply_timeout: float = 10.0,
        readiness: Readiness | None = None,
        secrets: SecretSource | None = None,
        ca_cert: Path | None = None,
    ) -> None:
        """``connect_timeout``: how long, without a supervisor, the first request waits for a proxy still starting;
        ``secrets``: the sessions' credentials to inject (None: none); ``ca_cert``: the proxy's CA certificate,
        which sandboxes with credentials trust (``bundle``)."""
        self.control_path = control_path
        self.socket_dir = control_path.parent
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self.readiness = readiness
        self._records: dict[str, _Record] = {}
        self._stream: UNIXSocketStream | None = None
        self._reader: control.LineReader | None = None
        self._generation = 0
        self._lock = anyio.Lock()
        self.secrets = secrets
        self.ca_cert = ca_cert
        self._bundle: str | None = None

    @property
    def channel_ids(self) -> frozenset[str]:
        return frozenset(self._records)

    async def open(self, channel_id: str, networking: JSONObject, session_id: str | None) -> EgressChannel:
        if not channel_id.replace("-", "").isalnum() or channel_id in self._records:
            raise SandboxError(f"sandbox: invalid or duplicate egress channel {channel_id!r}")
        path = self.socket_dir / f"{channel_id}.sock"
        found = await self._secrets(session_id)
        listener = await anyio.to_thread.run_sync(_listen, path)
        record = _Record(channel_id, networking, session_id, listener, path)
        injections = record.placeholders.first(found, HostPolicy.from_networking(networking), session_id or "")
        tokens = repository_tokens(found)
        try:
            await self._request(record.message(injections, tokens), listener)
            record.repositories = bool(tokens)
            bundle = await self.bundle() if injections or any(t.scheme == "https" for t in tokens) else None
        except BaseException:
            _discard(listener, path)
            raise
        self._records[channel_id] = record
        return EgressChannel(channel_id, str(path), record.placeholders.env, bundle, tuple(record.placeholders.notices))

    async def _secrets(self, session_id: str | None) -> Sequence[SessionCredential]:
        if self.secrets is None or session_id is None:
            return ()
        try:
            return await self.secrets(session_id)
        except SandboxError:
            raise
        except Exception as exc:  # only the type: an error of the vault's is no place to look for a secret
            raise SandboxError(
                f"sandbox: the session's credentials could not be read ({type(exc).__name__})",
                code=ErrorCode.SANDBOX_PROVISION_FAILED,
            ) from exc

    async def warm_claimable(self, session_id: str) -> bool:
        try:
            return not await self._secrets(session_id)
        except SandboxError:
            return False

    async def bundle(self) -> str:
        """The CA bundle sandboxes trust (the system's CAs and the proxy's certificate, never its key)."""
        if self._bundle is None:
            if self.ca_cert is None:
                raise SandboxError("sandbox: credentials need the egress proxy's CA, which this client was not given")
            target = self.socket_dir.parent / "ca-certificates.crt"
            try:
                self._bundle = await anyio.to_thread.run_sync(bundle.write, self.ca_cert, target)
            except (OSError, ValueError) as exc:
                raise SandboxError(
                    f"sandbox: the egress CA bundle: {exc}", code=ErrorCode.SANDBOX_PROVISION_FAILED
                ) from exc
        return self._bundle

    async def assign(self, channel_id: str, session_id: str) -> None:
        record = self._records.get(channel_id)
        if record is None:
            raise SandboxError(f"sandbox: no egress channel {channel_id!r}", code=ErrorCode.SANDBOX_PROVISION_FAILED)
        record.session_id = session_id
        await self._request({"op": "assign", "channel": channel_id, "session": session_id})

    async def close(self, channel_id: str) -> None:
        record = self._records.pop(channel_id, None)
        if record is None:
            return
        _discard(record.listener, record.path)
        with anyio.move_on_after(_NOTIFY_SECONDS, shield=True):
            await self._notify({"op": "close", "channel": channel_id})

    async def refresh(self, session_id: str) -> None:
        """Fetch the session's credentials afresh for its open channels (a rotated repository token or secret is
        used from the next request on, a removed repository's is no longer added); a channel of a session that has
        none and had none is left alone."""
        for record in [r for r in self._records.values() if r.session_id == session_id]:
            injections, tokens = await self._again(record)
            if injections or tokens or record.placeholders.by_credential or record.repositories:
                await self._request(record.message(injections, tokens), record.listener)
                record.repositories = bool(tokens)

    async def ping(self) -> list[str]:
        """The channels the proxy serves (a liveness check that also shows what it knows)."""
        channels = json_list((await self._request({"op": "ping"})).get("channels")) or []
        return [str(channel) for channel in channels]

    async def resync(self, generation: int) -> None:
        """A new proxy process (``generation``) is up: give it every open channel now, not at the next request."""
        async with self._lock:
            if self._stream is not None and self._generation == generation:
                return
            await self._disconnect()
            if not self._records:
                return
            try:
                await self._connected()
            except (SandboxError, TimeoutError, *_BROKEN) as exc:
                log.warning("egress: could not hand the channels to the restarted proxy: %s", exc)

    async def aclose(self) -> None:
        """Close the control connection and every channel socket still open."""
        for record in self._records.values():
            _discard(record.listener, record.path)
        self._records.clear()
        await self._disconnect()

    async def _notify(self, message: JSONObject) -> None:
        """Tell a connected proxy, if it answers quickly; a proxy that is away learns nothing it needs."""
        async with self._lock:
            if self._stream is None:
                return
            try:
                await self._exchange(message, None)
            except (TimeoutError, *_BROKEN):
                pass  # the connection is dropped; the socket was shut down already

    async def _request(self, message: JSONObject, attached: socket.socket | None = None) -> JSONObject:
        async with self._lock:
            try:
                try:
                    reply = await self._attempt(message, attached)
                except _BROKEN:  # once more: the proxy may have restarted since the last request
                    reply = await self._attempt(message, attached)
            except TimeoutError as exc:
                raise unreachable(f"no answer within {self.reply_timeout:g} s") from exc
            except _BROKEN as exc:
                raise unreachable(str(exc) or type(exc).__name__) from exc
        if reply.get("ok") is not True:
            raise SandboxError(
                f"sandbox: the egress proxy refused: {reply.get('error')}", code=ErrorCode.SANDBOX_PROVISION_FAILED
            )
        return reply

    async def _attempt(self, message: JSONObject, attached: socket.socket | None) -> JSONObject:
        await self._connected()
        return await self._exchange(message, attached)

    async def _exchange(self, message: JSONObject, attached: socket.socket | None) -> JSONObject:
        """One request and its answer; a connection left half-way (error, timeout, cancel) is dropped."""
        stream, reader = self._stream, self._reader
        assert stream is not None and reader is not None
        done = False
        try:
            with anyio.fail_after(self.reply_timeout):
                if attached is None:
                    await stream.send(control.encode(message))
                else:
                    await stream.send_fds(control.encode(message), [attached.fileno()])
                line, fds = await reader.receive()
            control.close_fds(fds)
            done = True
            return control.decode(line)
        finally:
            if not done:
                await self._disconnect()

    async def _connected(self) -> None:
        """A live connection; a new one is first given every open channel (a new proxy knows none of them)."""
        if self._stream is not None:
            return
        if self.readiness is not None:
            await self.readiness.wait_ready()
            self._generation = self.readiness.generation
        self._stream = await self._dial()
        self._reader = control.LineReader(self._stream)
        for record in list(self._records.values()):
            injections, tokens = await self._again(record)
            reply = await self._exchange(record.message(injections, tokens), record.listener)
            record.repositories = bool(tokens)
            if reply.get("ok") is not True:  # cannot happen with a well proxy; the sandbox then has no network
                log.error("egress: the proxy refused channel %s again: %s", record.channel_id, reply.get("error"))
                _discard(record.listener, record.path)
                del self._records[record.channel_id]

    async def _again(self, record: _Record) -> tuple[list[Injection], tuple[RepositoryToken, ...]]:
        """A replayed channel's injections and repository tokens, fetched afresh (a rotated one is used from now)."""
        try:
            found = await self._secrets(record.session_id)
        except SandboxError as exc:  # the vault is unwell: the channel still works, without injecting
            log.error("egress: channel %s: %s", record.channel_id, exc.message)
            return [], ()
        return record.placeholders.again(found), repository_tokens(found)

    async def _dial(self) -> UNIXSocketStream:
        steps = 1 if self.readiness is not None else max(1, int(self.connect_timeout / _DIAL_STEP))
        for attempt in range(steps):
            try:
                return await anyio.connect_unix(self.readiness.control_path if self.readiness else self.control_path)
            except OSError:
                if attempt == steps - 1:
                    raise
                await anyio.sleep(_DIAL_STEP)
        raise AssertionError("unreachable")

    async def _disconnect(self) -> None:
        stream, self._stream, self._reader = self._stream, None, None
        if stream is not None:
            with anyio.CancelScope(shield=True):
                await stream.aclose()

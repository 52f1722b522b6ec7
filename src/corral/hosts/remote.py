"""``RemoteSandboxProvider``: the workers' ``SandboxProvider`` over sandbox hosts (``corral sandbox-host``).

``provision`` places the session on a host (``directory.place``: sticky while the host lives) and asks it for the
session's sandbox; the ``RemoteSandbox`` it returns forwards ``execute`` and ``release`` to that host over kept
HTTP connections (TCP_NODELAY). The harness cannot tell it from the local provider.

Invariants (``SandboxProvider``'s, across the network):

* A sandbox that stopped on its host before a call reached it (idle there, or the host restarted) runs nothing:
  the call goes to a fresh sandbox of the session, provisioned as usual, which the ``RemoteSandbox`` stands for
  from then on (the harness sees one live sandbox, as with the local provider, where it would see the stop first).
* ``execute`` never raises: a host that is unreachable, too slow (past the call's wall-clock limit and a grace),
  or answering nonsense is a tool error, and the sandbox is dead from then on (``alive`` False); the host is
  avoided by this process's placements for ``SUSPECT_SECONDS``, so the next call provisions a fresh sandbox on
  another host.
* Exactly once per ``tool_use_id`` is kept by the journal of the host that ran the call; ``recorded`` asks the
  session's placed host. A host that is gone took its journal with it (and the sandbox's effects with its
  workspace): a call it had started is then unknown, and runs again elsewhere if the model asks again.
* A host full (503) or unreachable at provisioning is skipped for the next host with room, at most
  ``MAX_HOSTS_TRIED`` hosts; a refusal of the token is a ``SandboxError`` naming the setting.
* Without workspace snapshots (``follow_workspaces`` not called), a session whose workspace must be found
  (``workspace_expected``) is never moved off its placed host, which holds the workspace: while that host is
  gone (or full, or unreachable) provisioning fails with a ``SandboxError`` naming it, and the session's calls
  work again once the host is back with its data dir. With them, it moves like any session; the new host
  restores the workspace as of its last snapshot. A turn's end goes to the host (``hooks``), which checkpoints
  the workspace there; ``checkpoint`` here has nothing left to do.
* Warm pools and the sweep of deleted sessions run on the hosts themselves (``prepare``, ``kept_sessions`` are
  no-ops here).
* Sessions' resources (mounts, set-up steps, write-back, outputs) are run by the host, whose paths the mounts
  are (``mount_root`` is None here: a worker mounts nothing). ``hooks`` is the ``SessionAttachments`` the
  worker's hands use with this provider: it forwards ``turn_ended`` to the session's host and hands the
  notices the host sent back (in ``execute`` and ``turn_ended`` replies) to ``take_notices``, each once.
* Every call is bounded: ``execute`` by the sandbox's own wall-clock limit plus ``call_grace``, provisioning by
  ``provision_timeout`` (a fresh environment may build its package layer), every other call by
  ``call_timeout``, connecting by ``CONNECT_TIMEOUT``. A host that stalls is a tool error (or, for
  ``recorded`` and ``turn_ended``, nothing known), never a hang.
"""

from __future__ import annotations

import logging
import socket
import time
import weakref

import anyio
import httpx
from pydantic import ValidationError

from corral._types import JSONObject
from corral.db import Database
from corral.errors import ErrorCode, SandboxError
from corral.hosts.directory import HostDirectory, HostRecord
from corral.hosts.wire import (
    SPEC,
    ErrorReply,
    Executed,
    ExecuteRequest,
    Provisioned,
    Recorded,
    TurnEnded,
)
from corral.sandbox.attach import SessionAttachments
from corral.sandbox.base import ProvisionNotice, ProvisionSpec, Sandbox, SandboxProvider, ToolResult
from corral.sandbox.workspaces import WorkspaceStore

log = logging.getLogger("corral.hosts.remote")

MAX_HOSTS_TRIED = 3
SUSPECT_SECONDS = 30.0
PROVISION_TIMEOUT = 300.0  # a fresh sandbox may build its environment's package layer first
CONNECT_TIMEOUT = 2.0
CALL_GRACE_SECONDS = 10.0  # beyond the sandbox's own wall-clock limit (the host enforces that one)
CALL_TIMEOUT = 60.0  # the other calls: journal reads, turn ends (outputs collected), releases (write-back), forget
_FRESH = "the next call starts a fresh sandbox on another host"


def _client(token: str, timeout: httpx.Timeout) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        limits=httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=60.0),
    )
    return httpx.AsyncClient(
        transport=transport,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        timeout=timeout,
        trust_env=False,  # hosts are reached directly, never through an ambient proxy
    )


class TokenRefused(SandboxError):
    """The host does not accept this worker's token (rotated away, or mistyped): the same on every host."""


def _refusal(response: httpx.Response) -> SandboxError:
    try:
        error = ErrorReply.model_validate_json(response.content).error
    except ValidationError:
        return SandboxError(f"sandbox host answered {response.status_code}", code=ErrorCode.SANDBOX_PROVISION_FAILED)
    if response.status_code == 401:
        return TokenRefused(
            f"the sandbox host refused this worker's token: {error.message}", code=ErrorCode.SANDBOX_PROVISION_FAILED
        )
    codes = {code.value: code for code in ErrorCode}
    return SandboxError(error.message, code=codes.get(error.code, ErrorCode.SANDBOX_PROVISION_FAILED))


class RemoteSandbox(Sandbox):
    def __init__(self, provider: RemoteSandboxProvider, host: HostRecord, sandbox_id: str, spec: ProvisionSpec) -> None:
        self.session_id = spec.session_id
        self.host = host
        self.sandbox_id = sandbox_id
        self._provider = provider
        self._url = f"{host.url}/v1/sandboxes/{sandbox_id}"
        self._timeout = httpx.Timeout(spec.limits.wall_seconds + provider.call_grace, connect=CONNECT_TIMEOUT)
        self._spec = spec
        self._alive = True
        #: why the sandbox is dead, told to calls made after
        self._stopped = f"its host stopped answering; {_FRESH}"

    @property
    def alive(self) -> bool:
        return self._alive

    async def execute(self, name: str, input: JSONObject, tool_use_id: str) -> ToolResult:
        if not self._alive:
            return ToolResult.error(f"{name}: sandbox: {self._stopped}")
        body = ExecuteRequest(name=name, input=input, tool_use_id=tool_use_id).model_dump_json()
        try:
            executed = await self._reach(body)
            if not executed.ran:  # stopped on its host (idle, or the host restarted) before the call: nothing ran
                await self._replace()
                executed = await self._execute(body)
        except (httpx.HTTPError, ValidationError, SandboxError) as exc:
            return self._lost(name, exc)
        self._alive = executed.alive
        self._provider.hooks.heard(self.session_id, executed.notices)
        return executed.result

    async def _reach(self, body: str) -> Executed:
        """The call on this sandbox's host or, when that host cannot be connected to (the request never left:
        nothing ran), once on a fresh sandbox placed elsewhere."""
        try:
            return await self._execute(body)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            self._provider.suspect(self.host.host_id)
            await self._replace()
            return await self._execute(body)

    async def _execute(self, body: str) -> Executed:
        response = await self._provider.http.post(f"{self._url}/execute", content=body, timeout=self._timeout)
        if response.status_code != 200:
            raise _refusal(response)
        return Executed.model_validate_json(response.content)

    async def _replace(self) -> None:
        """Stand for a fresh sandbox of the session (placed as any provisioning is); its notices go to the hooks."""
        fresh = await self._provider.placed(self._spec)
        self._provider.hooks.heard(self.session_id, list(fresh.notices))
        self._provider.disown(fresh)
        self.host, self.sandbox_id, self._url = fresh.host, fresh.sandbox_id, fresh._url

    async def turn_ended(self) -> None:
        try:
            response = await self._provider.http.post(f"{self._url}/turn_ended", timeout=self._provider.timeout)
            if response.status_code != 200:
                raise _refusal(response)
            ended = TurnEnded.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError, SandboxError) as exc:  # its outputs are collected at the next one
            log.warning("the turn end of %s on %s failed: %s", self.session_id, self.host.host_id, exc)
            return
        self._provider.hooks.heard(self.session_id, ended.notices)

    def _lost(self, name: str, exc: Exception) -> ToolResult:
        self._alive = False
        why = exc.message if isinstance(exc, SandboxError) else f"{type(exc).__name__}: {exc}".rstrip(": ")
        log.warning("sandbox host %s failed a call of %s: %s", self.host.host_id, self.session_id, why)
        if isinstance(exc, TokenRefused):  # the deployment's tokens, not this host, are at fault: nowhere is better
            return ToolResult.error(f"{name}: sandbox: {why}")
        self._provider.suspect(self.host.host_id)
        return ToolResult.error(f"{name}: sandbox: its host {self.host.host_id} failed ({why}); {_FRESH}")

    async def release(self) -> None:
        if self._alive:
            self._stopped = "the sandbox was stopped (it was released)"
        self._alive = False
        try:
            await self._provider.http.post(f"{self._url}/release", timeout=self._provider.timeout)
        except httpx.HTTPError as exc:  # the host is gone: so is the sandbox
            log.info("releasing %s on %s: %s", self.sandbox_id, self.host.host_id, exc)


class RemoteHooks(SessionAttachments):
    """The worker's side of the sessions' resources, which their hosts run: a turn's end goes to the host of the
    session's sandbox, and the notices the hosts sent back wait here for ``take_notices``."""

    def __init__(self, provider: RemoteSandboxProvider) -> None:
        self._provider = provider
        self._notices: dict[str, list[ProvisionNotice]] = {}

    def heard(self, session_id: str, notices: list[ProvisionNotice]) -> None:
        if notices:
            self._notices.setdefault(session_id, []).extend(notices)

    async def turn_ended(self, workspace_id: str, session_id: str) -> None:
        sandbox = self._provider.live_sandbox(session_id)
        if sandbox is not None:
            await sandbox.turn_ended()

    def take_notices(self, session_id: str) -> list[ProvisionNotice]:
        return self._notices.pop(session_id, [])


class RemoteSandboxProvider(SandboxProvider):
    name = "remote"

    def __init__(
        self,
        database: Database,
        token: str,
        *,
        owns_database: bool = False,
        call_grace: float = CALL_GRACE_SECONDS,
        call_timeout: float = CALL_TIMEOUT,
        provision_timeout: float = PROVISION_TIMEOUT,
    ) -> None:
        """``owns_database``: open ``database`` on entering and close it on leaving; the bounds of calls in the
        module docstring."""
        self.directory = HostDirectory(database)
        self.hooks = RemoteHooks(self)
        self.call_grace = call_grace
        self.timeout = httpx.Timeout(call_timeout, connect=CONNECT_TIMEOUT)
        self._provision_timeout = httpx.Timeout(provision_timeout, connect=CONNECT_TIMEOUT)
        self._token = token
        self._owns_database = owns_database
        #: sessions' workspaces follow them through snapshots (``follow_workspaces``): a session may move hosts
        self._workspaces_follow = False
        self._http: httpx.AsyncClient | None = None
        #: hosts this process found unreachable or full, and when (placements avoid them a while)
        self._suspects: dict[str, float] = {}
        #: the sandboxes handed out, released when the provider closes
        self._sandboxes: weakref.WeakSet[RemoteSandbox] = weakref.WeakSet()

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise SandboxError(
                "the remote sandbox provider is not running: use it inside `async with provider:`",
                code=ErrorCode.SANDBOX_PROVISION_FAILED,
            )
        return self._http

    async def __aenter__(self) -> RemoteSandboxProvider:
        if self._owns_database:
            await self.directory.db.open()
        self._http = _client(self._token, self.timeout)
        return self

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            for sandbox in [sandbox for sandbox in self._sandboxes if sandbox.alive]:
                await sandbox.release()
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()
        if self._owns_database and http is not None:
            await self.directory.db.close()

    def disown(self, sandbox: RemoteSandbox) -> None:
        """Another ``RemoteSandbox`` stands for ``sandbox``'s sandbox now (and releases it)."""
        self._sandboxes.discard(sandbox)

    def live_sandbox(self, session_id: str) -> RemoteSandbox | None:
        return next((box for box in self._sandboxes if box.session_id == session_id and box.alive), None)

    def suspect(self, host_id: str) -> None:
        self._suspects[host_id] = time.monotonic()

    def _avoided(self) -> frozenset[str]:
        since = time.monotonic() - SUSPECT_SECONDS
        return frozenset(host for host, marked in self._suspects.items() if marked > since)

    def follow_workspaces(self, store: WorkspaceStore) -> None:
        """The hosts save and restore workspaces themselves (``compose.hosts``); here it means a session whose
        workspace is expected may move to another host, which restores it."""
        self._workspaces_follow = True

    async def provision(self, spec: ProvisionSpec) -> Sandbox:
        return await self.placed(spec)

    async def placed(self, spec: ProvisionSpec) -> RemoteSandbox:
        """``provision``, typed: the session's sandbox on its host."""
        if (
            spec.workspace_expected and not self._workspaces_follow
        ):  # the workspace is on the session's host: never move it elsewhere
            placement = await self.directory.placement(spec.session_id)
            if placement is not None:
                return await self._provision_pinned(placement.host, spec)
        avoid = set(self._avoided())
        failures: list[str] = []
        for _ in range(MAX_HOSTS_TRIED):
            placement = await self.directory.place(spec.session_id, frozenset(avoid))
            if placement is None:
                break
            try:
                return await self._provision_on(placement.host, spec)
            except _Unavailable as exc:
                self.suspect(placement.host.host_id)
                avoid.add(placement.host.host_id)
                failures.append(f"{placement.host.host_id}: {exc}")
        tried = f" (tried {'; '.join(failures)})" if failures else ""
        raise SandboxError(f"no sandbox host has room for this session{tried}", code=ErrorCode.SANDBOX_PROVISION_FAILED)

    async def _provision_pinned(self, host: HostRecord, spec: ProvisionSpec) -> RemoteSandbox:
        where = f"this session's workspace is on sandbox host {host.host_id}"
        if not host.live:
            raise SandboxError(
                f"{where}, which is not running: the session's sandbox calls fail until that host is back (with"
                " its CORRAL_DATA_DIR, where workspaces are kept)",
                code=ErrorCode.WORKSPACE_MISSING,
            )
        try:
            return await self._provision_on(host, spec)
        except _Unavailable as exc:
            self.suspect(host.host_id)
            raise SandboxError(
                f"{where}, which cannot take it now ({exc})", code=ErrorCode.SANDBOX_PROVISION_FAILED
            ) from exc

    async def _provision_on(self, host: HostRecord, spec: ProvisionSpec) -> RemoteSandbox:
        try:
            response = await self.http.post(
                f"{host.url}/v1/provision", content=SPEC.dump_json(spec), timeout=self._provision_timeout
            )
        except httpx.HTTPError as exc:
            raise _Unavailable(f"unreachable: {type(exc).__name__} {exc}".strip()) from exc
        if response.status_code != 200:
            refusal = _refusal(response)
            if response.status_code == 503 and refusal.code == ErrorCode.SANDBOX_PROVISION_FAILED:
                raise _Unavailable(refusal.message)
            raise refusal
        try:
            provisioned = Provisioned.model_validate_json(response.content)
        except ValidationError as exc:
            raise _Unavailable(f"answered nonsense: {exc.errors()[:1]}") from exc
        sandbox = RemoteSandbox(self, host, provisioned.sandbox_id, spec)
        sandbox.notices = tuple(ProvisionNotice(n.error_type, n.message, n.fields) for n in provisioned.notices)
        self._sandboxes.add(sandbox)
        return sandbox

    async def recorded(self, session_id: str, tool_use_id: str) -> ToolResult | None:
        placement = await self.directory.placement(session_id)
        if placement is None or not placement.host.live:
            return None
        url = f"{placement.host.url}/v1/sessions/{session_id}/tool_uses/{tool_use_id}"
        try:
            response = await self.http.get(url, timeout=self.timeout)
            if response.status_code != 200:
                raise _refusal(response)
            return Recorded.model_validate_json(response.content).result
        except (httpx.HTTPError, ValidationError, SandboxError) as exc:
            log.warning("asking %s for the journal of %s failed: %s", placement.host.host_id, session_id, exc)
            return None

    async def forget(self, session_id: str) -> None:
        placement = await self.directory.placement(session_id)
        if placement is not None and placement.host.live:
            try:
                await self.http.delete(f"{placement.host.url}/v1/sessions/{session_id}", timeout=self.timeout)
            except httpx.HTTPError as exc:
                log.warning("forgetting %s on %s failed: %s", session_id, placement.host.host_id, exc)
        await self.directory.unplace(session_id)


class _Unavailable(Exception):
    """The host cannot take the session now (unreachable, full, answering nonsense): try another."""

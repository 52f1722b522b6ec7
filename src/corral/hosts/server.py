"""A sandbox host's HTTP API (``corral.hosts.wire``) over the machine's ``SandboxProvider``.

``SandboxHost`` holds the provider and the sandboxes it handed out, by id, and runs the sessions' resources in
them (the ``SessionAttachments`` of this host: a mount's source is a path on this machine, so only the host can
make it); ``host_app`` serves it to workers.

Invariants:

* Every route but ``/healthz`` requires one of the deployment's tokens (each compared in constant time; the host
  accepts a list so a token can be rotated); a request without one is a 401 in the error shape, and nothing runs.
* The hooks of ``SessionAttachments`` run here as they run in a worker of one machine: ``attachments`` at each
  provisioning (set-up steps run in each fresh sandbox, a failed one is a notice), ``before_call`` and
  ``after_call`` around each ``execute``, ``turn_ended`` (then the provider's ``checkpoint``: the workspace is
  saved where the session's next host finds it), ``released`` (also for every sandbox still held when
  the host stops) and ``forget``. The notices they leave go back in the replies, each once. A session unknown to
  the database gets no resources.
* The host never runs more live sandboxes than its capacity, whatever it reported: a provisioning that would pass
  it is refused (503, ``overloaded_error``) unless the session already has a live sandbox here. Beside it, a
  workspace runs at most ``max_per_workspace`` live sandboxes here (``corral.sandbox.limits``: counted on this
  host only); one more is refused (429, ``quota_exceeded``), which the worker's call reports as a tool error. The
  spec's workspace is the session's as the database knows it (the worker's word only for a session unknown there).
* ``execute`` keeps the provider's guarantees (exactly once per ``tool_use_id``, by the journal on this host;
  never an exception for a failure of the tool or the sandbox); a call whose worker hangs up (its harness died,
  or it stopped waiting) is cancelled, so the journal answers ``interrupted`` for it, as on one machine; a
  sandbox unknown or stopped here (released, stopped when idle, or the host restarted) answers that nothing ran
  (``ran`` False), and the worker sends the call to a fresh sandbox.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from corral.errors import AuthenticationFailed, CorralError, ErrorCode, InvalidRequest, SandboxError
from corral.hosts.wire import (
    HOST_FULL,
    ErrorBody,
    ErrorReply,
    Executed,
    ExecuteRequest,
    KeptSessions,
    Provisioned,
    Recorded,
    TurnEnded,
)
from corral.sandbox import limits
from corral.sandbox.attach import NO_ATTACHMENTS, SessionAttachments
from corral.sandbox.base import ProvisionSpec, Sandbox, SandboxProvider, ToolResult
from corral.sandbox.hands import set_up


class HostFull(SandboxError):
    status = 503
    wire_type = HOST_FULL
    default_code = ErrorCode.SANDBOX_PROVISION_FAILED


#: the session's workspace, or None when the session does not exist (its sandbox then gets no resources)
WorkspaceOf = Callable[[str], Awaitable[str | None]]


async def _no_workspace(session_id: str) -> str | None:
    return None


#: returns when the worker that made a request has hung up
HungUp = Callable[[], Awaitable[None]]


async def _unless(hung_up: HungUp, sandbox: Sandbox, call: ExecuteRequest) -> ToolResult:
    """The call's result; if the worker hangs up first, the call is cancelled, as a local harness dying mid-call
    cancels it: the journal then answers ``interrupted`` for it and never runs it again."""
    got: list[ToolResult] = []
    async with anyio.create_task_group() as tasks:

        async def run() -> None:
            got.append(await sandbox.execute(call.name, call.input, call.tool_use_id))
            tasks.cancel_scope.cancel()

        tasks.start_soon(run)
        await hung_up()
        tasks.cancel_scope.cancel()
    return got[0] if got else ToolResult.error(f"{call.name}: interrupted: the worker hung up")


@dataclass
class _Held:
    sandbox: Sandbox
    #: the workspace of the sandbox's session (None: an unknown session, whose sandbox has no resources)
    workspace_id: str | None
    #: the workspace the sandbox counts against (``ProvisionSpec.workspace_id``; "": none)
    counted_in: str = ""


class SandboxHost:
    """The provider of this machine, the live sandboxes it gave workers, and the sessions' resources in them."""

    def __init__(
        self,
        provider: SandboxProvider,
        capacity: int,
        attachments: SessionAttachments = NO_ATTACHMENTS,
        workspace_of: WorkspaceOf = _no_workspace,
        max_per_workspace: int = 0,
    ) -> None:
        self.provider = provider
        self.capacity = capacity
        #: live sandboxes one workspace may run on this host (0: no limit)
        self.max_per_workspace = max_per_workspace
        self.attachments = attachments
        self._workspace_of = workspace_of
        #: the host is in the directory (``/healthz`` answers 503 until then)
        self.registered = False
        self._sandboxes: dict[str, _Held] = {}

    def in_use(self) -> int:
        """Live sandboxes handed out (dead ones are dropped as they are counted)."""
        for sandbox_id, held in list(self._sandboxes.items()):
            if not held.sandbox.alive:
                del self._sandboxes[sandbox_id]
        return len(self._sandboxes)

    def _live_for(self, session_id: str) -> str | None:
        for sandbox_id, held in self._sandboxes.items():
            if held.sandbox.session_id == session_id and held.sandbox.alive:
                return sandbox_id
        return None

    def _running_in(self, workspace_id: str) -> int:
        """Live sandboxes handed out for sessions of ``workspace_id``."""
        self.in_use()  # drops the dead ones
        return sum(1 for held in self._sandboxes.values() if held.counted_in == workspace_id)

    async def provision(self, spec: ProvisionSpec) -> Provisioned:
        if spec.mounts or spec.setup:
            raise InvalidRequest("a sandbox host makes the mounts and set-up steps of a session from its resources")
        workspace_id = await self._workspace_of(spec.session_id)
        spec = replace(spec, workspace_id=workspace_id or spec.workspace_id)
        if self._live_for(spec.session_id) is None:
            if self.in_use() >= self.capacity:
                raise HostFull(f"this sandbox host is full ({self.capacity} sandboxes)")
            limits.check(spec.workspace_id, self._running_in(spec.workspace_id), self.max_per_workspace)
        if workspace_id is not None:
            attached = await self.attachments.attachments(workspace_id, spec.session_id)
            spec = replace(spec, mounts=attached.mounts, setup=attached.setup)
        sandbox = await self.provider.provision(spec)
        sandbox_id = next((key for key, held in self._sandboxes.items() if held.sandbox is sandbox), None)
        if sandbox_id is not None:  # the session's live sandbox, set up already
            return Provisioned(sandbox_id=sandbox_id, notices=list(sandbox.notices))
        sandbox_id = "sbx_" + secrets.token_hex(12)
        self._sandboxes[sandbox_id] = _Held(sandbox, workspace_id, spec.workspace_id)
        return Provisioned(sandbox_id=sandbox_id, notices=[*sandbox.notices, *await set_up(sandbox, spec.setup)])

    async def execute(self, sandbox_id: str, call: ExecuteRequest, hung_up: HungUp = anyio.sleep_forever) -> Executed:
        """``hung_up`` returns when the worker that asked is gone (its harness died mid-call, or it gave up)."""
        held = self._sandboxes.get(sandbox_id)
        if held is None or not held.sandbox.alive:  # released, stopped when idle, or the host restarted
            if held is not None:
                await self.release(sandbox_id)  # what it left is written back
            text = f"{call.name}: sandbox: this sandbox is gone from its host (stopped, or the host restarted)"
            return Executed(result=ToolResult.error(text), alive=False, ran=False)
        sandbox, workspace_id = held.sandbox, held.workspace_id
        if workspace_id is not None:
            await self.attachments.before_call(workspace_id, sandbox.session_id, call.name)
        result = await _unless(hung_up, sandbox, call)
        if workspace_id is not None:  # what an interrupted call wrote is written back too
            await self.attachments.after_call(workspace_id, sandbox.session_id, call.name)
        notices = self.attachments.take_notices(sandbox.session_id)
        return Executed(result=result, alive=sandbox.alive, notices=notices)

    async def turn_ended(self, sandbox_id: str) -> TurnEnded:
        held = self._sandboxes.get(sandbox_id)
        if held is None:
            return TurnEnded()
        if held.workspace_id is None:
            return TurnEnded(notices=await self.provider.checkpoint(held.sandbox.session_id))
        session_id = held.sandbox.session_id
        await self.attachments.turn_ended(held.workspace_id, session_id)
        saved = await self.provider.checkpoint(session_id)  # the workspace, where the next host finds it
        return TurnEnded(notices=[*self.attachments.take_notices(session_id), *saved])

    async def release(self, sandbox_id: str) -> None:
        held = self._sandboxes.pop(sandbox_id, None)
        if held is None:
            return
        with anyio.CancelScope(shield=True):  # what the sandbox left is written back even if the worker hangs up
            await held.sandbox.release()
            if held.workspace_id is not None:
                await self.attachments.released(held.workspace_id, held.sandbox.session_id)

    async def forget(self, session_id: str) -> None:
        await self.provider.forget(session_id)
        await self.attachments.forget(session_id)

    async def aclose(self) -> None:
        """Release every sandbox handed out (the host stops), writing back what each left."""
        for sandbox_id in list(self._sandboxes):
            await self.release(sandbox_id)


def _error(error: CorralError) -> JSONResponse:
    body = ErrorReply(error=ErrorBody(type=error.wire_type, message=error.message, code=error.code.value))
    return JSONResponse(body.model_dump(), status_code=error.status)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    return _error(exc if isinstance(exc, CorralError) else InvalidRequest(f"invalid request: {exc}"))


def _host(request: Request) -> SandboxHost:
    host: SandboxHost = request.app.state.host
    return host


def _authorized(request: Request, authorization: Annotated[str, Header()] = "") -> None:
    accepted: list[bytes] = request.app.state.accepted
    given = authorization.encode()
    # every accepted token is compared (constant time each), so the time taken does not say which one matched
    if not sum(hmac.compare_digest(given, expected) for expected in accepted):
        raise AuthenticationFailed(
            "this sandbox host does not accept this token: workers send the first of the host's"
            " CORRAL_SANDBOX_HOST_TOKEN (a comma-separated list while tokens rotate)"
        )


Host = Annotated[SandboxHost, Depends(_host)]
router = APIRouter(dependencies=[Depends(_authorized)])


@router.post("/v1/provision")
async def provision(spec: ProvisionSpec, host: Host) -> Provisioned:
    return await host.provision(spec)


@router.post("/v1/sandboxes/{sandbox_id}/execute")
async def execute(sandbox_id: str, call: ExecuteRequest, host: Host, request: Request) -> Executed:
    async def hung_up() -> None:
        while (await request.receive())["type"] != "http.disconnect":  # the body is read: only a hang-up comes
            pass

    return await host.execute(sandbox_id, call, hung_up)


@router.post("/v1/sandboxes/{sandbox_id}/turn_ended")
async def turn_ended(sandbox_id: str, host: Host) -> TurnEnded:
    return await host.turn_ended(sandbox_id)


@router.post("/v1/sandboxes/{sandbox_id}/release", status_code=204)
async def release(sandbox_id: str, host: Host) -> Response:
    await host.release(sandbox_id)
    return Response(status_code=204)


@router.get("/v1/sessions/{session_id}/tool_uses/{tool_use_id}")
async def recorded(session_id: str, tool_use_id: str, host: Host) -> Recorded:
    return Recorded(result=await host.provider.recorded(session_id, tool_use_id))


@router.get("/v1/sessions")
async def kept(host: Host) -> KeptSessions:
    return KeptSessions(session_ids=await host.provider.kept_sessions())


@router.delete("/v1/sessions/{session_id}", status_code=204)
async def forget(session_id: str, host: Host) -> Response:
    await host.forget(session_id)
    return Response(status_code=204)


async def healthz(host: Host) -> JSONResponse:
    figures = {"capacity": host.capacity, "in_use": host.in_use(), "registered": host.registered}
    return JSONResponse(figures, status_code=200 if host.registered else 503)


def host_app(host: SandboxHost, tokens: Sequence[str]) -> FastAPI:
    """The host's API; ``tokens``: the deployment's tokens it accepts (workers send one as ``Authorization: Bearer
    …``; more than one while a token is being rotated)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.host = host
    app.state.accepted = [f"Bearer {token}".encode() for token in tokens]
    app.add_exception_handler(CorralError, _refused)
    app.add_exception_handler(RequestValidationError, _refused)
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.include_router(router)
    return app

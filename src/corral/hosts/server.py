"""A sandbox host's HTTP API (``corral.hosts.wire``) over the machine's ``SandboxProvider``.

``SandboxHost`` holds the provider and the sandboxes it handed out, by id; ``host_app`` serves it to workers.

Invariants:

* Every route but ``/healthz`` requires the deployment's token (compared in constant time); a request without
  it is a 401 in the error shape, and nothing runs.
* The host never runs more live sandboxes than its capacity, whatever it reported: a provisioning that would pass
  it is refused (503, ``overloaded_error``) unless the session already has a live sandbox here.
* ``execute`` keeps the provider's guarantees (exactly once per ``tool_use_id``, by the journal on this host;
  never an exception for a failure of the tool or the sandbox); an unknown sandbox id (released, or the host
  restarted) answers a dead sandbox, so the worker provisions a fresh one for its next call.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

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
)
from corral.sandbox.base import ProvisionSpec, Sandbox, SandboxProvider, ToolResult


class HostFull(SandboxError):
    status = 503
    wire_type = HOST_FULL
    default_code = ErrorCode.SANDBOX_PROVISION_FAILED


class SandboxHost:
    """The provider of this machine and the live sandboxes it gave workers."""

    def __init__(self, provider: SandboxProvider, capacity: int) -> None:
        self.provider = provider
        self.capacity = capacity
        #: the host is in the directory (``/healthz`` answers 503 until then)
        self.registered = False
        self._sandboxes: dict[str, Sandbox] = {}

    def in_use(self) -> int:
        """Live sandboxes handed out (dead ones are dropped as they are counted)."""
        for sandbox_id, sandbox in list(self._sandboxes.items()):
            if not sandbox.alive:
                del self._sandboxes[sandbox_id]
        return len(self._sandboxes)

    def _live_for(self, session_id: str) -> str | None:
        for sandbox_id, sandbox in self._sandboxes.items():
            if sandbox.session_id == session_id and sandbox.alive:
                return sandbox_id
        return None

    async def provision(self, spec: ProvisionSpec) -> Provisioned:
        if self._live_for(spec.session_id) is None and self.in_use() >= self.capacity:
            raise HostFull(f"this sandbox host is full ({self.capacity} sandboxes)")
        sandbox = await self.provider.provision(spec)
        sandbox_id = next((key for key, known in self._sandboxes.items() if known is sandbox), None)
        if sandbox_id is None:
            sandbox_id = "sbx_" + secrets.token_hex(12)
            self._sandboxes[sandbox_id] = sandbox
        return Provisioned(sandbox_id=sandbox_id, notices=list(sandbox.notices))

    async def execute(self, sandbox_id: str, call: ExecuteRequest) -> Executed:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            text = f"{call.name}: sandbox: this sandbox is gone from its host (released, or the host restarted)"
            return Executed(result=ToolResult.error(text), alive=False)
        result = await sandbox.execute(call.name, call.input, call.tool_use_id)
        return Executed(result=result, alive=sandbox.alive)

    async def release(self, sandbox_id: str) -> None:
        sandbox = self._sandboxes.pop(sandbox_id, None)
        if sandbox is not None:
            await sandbox.release()


def _error(error: CorralError) -> JSONResponse:
    body = ErrorReply(error=ErrorBody(type=error.wire_type, message=error.message, code=error.code.value))
    return JSONResponse(body.model_dump(), status_code=error.status)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    return _error(exc if isinstance(exc, CorralError) else InvalidRequest(f"invalid request: {exc}"))


def _host(request: Request) -> SandboxHost:
    host: SandboxHost = request.app.state.host
    return host


def _authorized(request: Request, authorization: Annotated[str, Header()] = "") -> None:
    expected: bytes = request.app.state.expected_authorization
    if not hmac.compare_digest(authorization.encode(), expected):
        raise AuthenticationFailed("this sandbox host needs the deployment's token (CORRAL_SANDBOX_HOST_TOKEN)")


Host = Annotated[SandboxHost, Depends(_host)]
router = APIRouter(dependencies=[Depends(_authorized)])


@router.post("/v1/provision")
async def provision(spec: ProvisionSpec, host: Host) -> Provisioned:
    return await host.provision(spec)


@router.post("/v1/sandboxes/{sandbox_id}/execute")
async def execute(sandbox_id: str, call: ExecuteRequest, host: Host) -> Executed:
    return await host.execute(sandbox_id, call)


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
    await host.provider.forget(session_id)
    return Response(status_code=204)


async def healthz(host: Host) -> JSONResponse:
    figures = {"capacity": host.capacity, "in_use": host.in_use(), "registered": host.registered}
    return JSONResponse(figures, status_code=200 if host.registered else 503)


def host_app(host: SandboxHost, token: str) -> FastAPI:
    """The host's API; ``token``: the deployment's (workers send it as ``Authorization: Bearer …``)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.host = host
    app.state.expected_authorization = f"Bearer {token}".encode()
    app.add_exception_handler(CorralError, _refused)
    app.add_exception_handler(RequestValidationError, _refused)
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.include_router(router)
    return app

"""What workers and sandbox hosts say to each other: small typed bodies, validated on both sides by pydantic.

The routes (all under the per-deployment token, ``Authorization: Bearer …``):

* ``POST /v1/provision`` (a ``ProvisionSpec``) → ``Provisioned``;
* ``POST /v1/sandboxes/{sandbox_id}/execute`` (``ExecuteRequest``) → ``Executed``;
* ``POST /v1/sandboxes/{sandbox_id}/turn_ended`` → ``TurnEnded`` (the session's turn ended: outputs collected);
* ``POST /v1/sandboxes/{sandbox_id}/release`` → 204;
* ``GET /v1/sessions/{session_id}/tool_uses/{tool_use_id}`` → ``Recorded``;
* ``GET /v1/sessions`` → ``KeptSessions``; ``DELETE /v1/sessions/{session_id}`` (forget) → 204;
* ``GET /healthz`` (no token) → 200.

A refusal is ``{"type": "error", "error": {"type", "message", "code"}}`` with the status of the ``CorralError``
(``code``: its ``ErrorCode``), so a worker raises the same error the host's provider raised; a full host answers
503 with ``code`` ``sandbox_provision_failed`` and ``type`` ``overloaded_error``.

A worker sends a ``ProvisionSpec`` without mounts or set-up steps: the host makes them from the session's resources
(a mount's source is a path on the host); ``Executed`` and ``TurnEnded`` carry the notices the session's resources
had for it (``SessionAttachments.take_notices``), which the worker reports on the session.

Invariant: nothing secret crosses this wire beyond what a ``ProvisionSpec`` holds (which is nothing secret).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from corral.sandbox.base import ProvisionNotice, ProvisionSpec, ToolResult

SPEC = TypeAdapter(ProvisionSpec)
HOST_FULL = "overloaded_error"
#: the header a worker sends its token in
AUTHORIZATION = "authorization"


class Provisioned(BaseModel):
    sandbox_id: str
    notices: list[ProvisionNotice] = []


class ExecuteRequest(BaseModel):
    name: str
    input: dict[str, Any]
    tool_use_id: str


class Executed(BaseModel):
    result: ToolResult
    #: the sandbox is still alive after the call (False: the worker provisions a fresh one for the next call)
    alive: bool
    #: False: the sandbox had stopped on the host before the call (idle, or the host restarted); nothing ran
    ran: bool = True
    #: what the session must be told about its resources (e.g. a write-back conflict), each once
    notices: list[ProvisionNotice] = []


class TurnEnded(BaseModel):
    notices: list[ProvisionNotice] = []


class Recorded(BaseModel):
    result: ToolResult | None = None


class KeptSessions(BaseModel):
    session_ids: list[str]


class ErrorBody(BaseModel):
    type: str
    message: str
    code: str


class ErrorReply(BaseModel):
    type: str = "error"
    error: ErrorBody

"""The credentials of self-hosted workers at the gate (api.md §10.1): environment keys and per-item sessions tokens.

Invariants:

* Only a key that is not an API key reaches here; what it may open is decided here, before any route runs:
  - an **environment key** opens its own environment's ``…/work`` routes, the sessions of that environment
    (``GET /v1/sessions/{id}``, its events and stream) and skill downloads;
  - a **sessions token** (from a work item's ``secret``) opens its own item's heartbeat and stop, its one session
    (the same calls), skill downloads and memory stores. Any other session is refused (403), so a secret leaked
    from one session's sandbox reaches nothing else.
* A credential admitted here sets ``scope["state"]["worker"]`` (a ``WorkerCredential``); the work routes tell
  API-key callers from workers by it. A revoked key, or the token of an item stopped or delivered again, is 401.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from starlette.types import Scope

from corral.catalog import Principal
from corral.errors import AuthenticationFailed, CorralError, NotFound, PermissionDenied
from corral.work import WorkQueue
from corral.work.keys import ENVIRONMENT_KEY_PREFIX, SESSIONS_TOKEN_PREFIX

WORK_PATH = re.compile(r"/v1/environments/(?P<env>[^/]+)/work(?:/(?P<rest>.*))?")
SESSION_PATH = re.compile(r"/v1/sessions/(?P<sid>[^/]+)(?P<rest>/events(?:/stream)?)?")
SKILLS = "/v1/skills"
MEMORY_STORES = "/v1/memory_stores"


@dataclass(frozen=True)
class WorkerCredential:
    kind: Literal["environment_key", "sessions_token"]
    environment_id: str
    #: the work item a sessions token belongs to (None for an environment key)
    work_id: str | None = None
    session_id: str | None = None


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


async def admit_worker(scope: Scope, secret: str) -> CorralError | None:
    """Admit ``secret`` as a worker's credential for this request, or say why not."""
    state: Any = scope["app"].state
    work: WorkQueue | None = getattr(state, "work", None)
    if work is None or not secret.startswith((ENVIRONMENT_KEY_PREFIX, SESSIONS_TOKEN_PREFIX)):
        return AuthenticationFailed("invalid API key")
    if secret.startswith(ENVIRONMENT_KEY_PREFIX):
        key = await work.key_for(secret)
        if key is None:
            return AuthenticationFailed("invalid or revoked environment key")
        credential = WorkerCredential("environment_key", key.environment_id)
        workspace_id = key.workspace_id
    else:
        item = await work.item_for(secret)
        if item is None or item.state == "stopped":
            return AuthenticationFailed("this work secret's sessions token is no longer valid")
        credential = WorkerCredential("sessions_token", item.environment_id, item.id, item.session_id)
        workspace_id = item.workspace_id
    refusal = await _refusal(scope, credential, workspace_id)
    if refusal is None:
        scope["state"]["principal"] = Principal(workspace_id, None)
        scope["state"]["worker"] = credential
    return refusal


async def _refusal(scope: Scope, credential: WorkerCredential, workspace_id: str) -> CorralError | None:
    path: str = scope.get("path", "")
    method: str = scope.get("method", "GET")
    token = credential.kind == "sessions_token"
    noun = "a work secret's sessions token" if token else "an environment key"
    if (work := WORK_PATH.fullmatch(path)) is not None:
        if work["env"] != credential.environment_id:
            return PermissionDenied(f"{noun} only opens the work of environment {credential.environment_id}")
        if token and work["rest"] not in (f"{credential.work_id}/heartbeat", f"{credential.work_id}/stop"):
            return PermissionDenied(f"{noun} only opens its own work item's heartbeat and stop")
        return None
    if (session := SESSION_PATH.fullmatch(path)) is not None:
        if method != "GET" and session["rest"] != "/events":
            return PermissionDenied(f"{noun} may not {method} {path}")
        return await _session_refusal(scope, credential, workspace_id, session["sid"], noun)
    if _under(path, SKILLS) and method == "GET":
        return None
    if token and _under(path, MEMORY_STORES):
        return None
    return PermissionDenied(f"{noun} may not call {method} {path}")


async def _session_refusal(
    scope: Scope, credential: WorkerCredential, workspace_id: str, session_id: str, noun: str
) -> CorralError | None:
    if credential.session_id is not None:
        if session_id != credential.session_id:
            return PermissionDenied(f"{noun} is limited to session {credential.session_id}")
        return None
    services: Any = scope["app"].state.services
    try:
        record = await services.sessions.get_session(session_id, workspace_id)
    except NotFound:
        return None  # the route answers 404 as it would to anyone
    if record.environment_id != credential.environment_id:
        return PermissionDenied(f"{noun} only opens the sessions of environment {credential.environment_id}")
    return None

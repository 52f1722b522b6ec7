"""``/v1/environments/{id}/work…`` (api.md §10.2) and ``/v1/environments/{id}/keys`` (a corral extension: the hosted
API makes environment keys in its console).

Who may call what (the gate admitted the credential for this environment already, ``work_auth``):

* poll, ack and list: the environment's key only; heartbeat: the key or the item's sessions token;
* retrieve, update and stats: an API key only; stop: any of the three;
* keys: an API key only, of the environment's workspace.
"""

from __future__ import annotations

from typing import Annotated, Any

from anthropic.types.beta.environments import (
    BetaSelfHostedWork,
    BetaSelfHostedWorkHeartbeatResponse,
    BetaSelfHostedWorkQueueStats,
)
from fastapi import APIRouter, Header, Query, Request

from corral.api.http import JSONBytes, Limit100, PageToken, context, json_response
from corral.api.routes.common import ERRORS
from corral.api.wire import (
    EnvironmentKey,
    EnvironmentKeyPage,
    ErrorBody,
    WorkPage,
)
from corral.api.work_auth import WorkerCredential
from corral.catalog.params.base import NO_NUL
from corral.errors import ErrorCode, InvalidRequest, PermissionDenied
from corral.paging import Cursor, decode_cursor
from corral.wire import MetadataPatch, Strict
from corral.work import WorkQueue

router = APIRouter(prefix="/v1/environments/{environment_id}", tags=["work"], responses=ERRORS)

API_KEY, ENVIRONMENT_KEY, SESSIONS_TOKEN = "api_key", "environment_key", "sessions_token"


class WorkStop(Strict):
    force: bool = False


class WorkUpdate(Strict):
    metadata: MetadataPatch


class KeyCreate(Strict):
    name: Annotated[str, NO_NUL] = ""


def _caller(request: Request) -> str:
    worker: WorkerCredential | None = request.scope["state"].get("worker")
    return API_KEY if worker is None else worker.kind


def _only(request: Request, *kinds: str) -> None:
    caller = _caller(request)
    if caller not in kinds:
        names = " or ".join(kind.replace("_", " ") for kind in kinds)
        raise PermissionDenied(f"this call takes {names}, not {caller.replace('_', ' ')}")


def work_queue(request: Request) -> WorkQueue:
    work: WorkQueue = request.app.state.work
    return work


async def _queue(request: Request, environment_id: str) -> tuple[WorkQueue, str]:
    """The work queue and the caller's workspace, once the environment is known to be a self_hosted one of it."""
    services, workspace = context(request)
    environment = await services.catalog.get_environment(workspace, environment_id)
    if environment.config.get("type") != "self_hosted":
        raise InvalidRequest(f"environment {environment_id} is not self_hosted: it has no work queue")
    return work_queue(request), workspace


# ------------------------------------------------------------------ keys


@router.post(
    "/keys",
    response_model=EnvironmentKey,
    summary="Create an environment key (corral extension; the key is shown once)",
)
async def create_key(request: Request, environment_id: str, body: KeyCreate | None = None) -> JSONBytes:
    _only(request, API_KEY)
    work, workspace = await _queue(request, environment_id)
    key = await work.create_key(workspace, environment_id, (body or KeyCreate()).name)
    return json_response(key.wire())


@router.get(
    "/keys", response_model=EnvironmentKeyPage, summary="List an environment's keys by prefix (corral extension)"
)
async def list_keys(request: Request, environment_id: str) -> JSONBytes:
    _only(request, API_KEY)
    work, workspace = await _queue(request, environment_id)
    found = await work.list_keys(workspace, environment_id)
    return json_response({"data": [key.wire() for key in found], "next_page": None})


@router.post(
    "/keys/{key_id}/revoke", response_model=EnvironmentKey, summary="Revoke an environment key (corral extension)"
)
async def revoke_key(request: Request, environment_id: str, key_id: str) -> JSONBytes:
    _only(request, API_KEY)
    work, workspace = await _queue(request, environment_id)
    return json_response((await work.revoke_key(workspace, environment_id, key_id)).wire())


# ------------------------------------------------------------------ work


@router.get(
    "/work/poll",
    response_model=BetaSelfHostedWork | None,
    summary="Claim the next work item (long-poll up to block_ms)",
)
async def poll_work(
    request: Request,
    environment_id: str,
    block_ms: Annotated[int | None, Query(ge=1, le=999)] = None,
    reclaim_older_than_ms: Annotated[int, Query(ge=0)] = 5000,
    anthropic_worker_id: Annotated[str, Header(max_length=256)] = "",
) -> JSONBytes:
    _only(request, ENVIRONMENT_KEY)
    work, _ = await _queue(request, environment_id)
    worker_id = anthropic_worker_id or "anonymous"
    item = await work.poll(environment_id, worker_id, block_ms, reclaim_older_than_ms)
    return json_response(None if item is None else item.wire())


@router.get("/work/stats", response_model=BetaSelfHostedWorkQueueStats, summary="Work queue statistics")
async def work_stats(request: Request, environment_id: str) -> JSONBytes:
    _only(request, API_KEY)
    work, workspace = await _queue(request, environment_id)
    return json_response((await work.stats(workspace, environment_id)).wire())


@router.get("/work", response_model=WorkPage, summary="List work items, newest first")
async def list_work(request: Request, environment_id: str, limit: Limit100 = 20, page: PageToken = None) -> JSONBytes:
    _only(request, ENVIRONMENT_KEY)
    work, workspace = await _queue(request, environment_id)
    after: tuple[str, str] | None = None
    if page:
        key: list[Any] = decode_cursor(page, order="desc", scope="work").key
        if len(key) != 2 or not all(isinstance(part, str) for part in key):
            raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
        after = (str(key[0]), str(key[1]))
    items, more = await work.page(workspace, environment_id, limit, after)
    next_page = Cursor([items[-1].created_at, items[-1].id], "next", "desc", "work").encode() if more else None
    return json_response({"data": [item.wire() for item in items], "next_page": next_page})


@router.post(
    "/work/{work_id}/ack",
    response_model=BetaSelfHostedWork,
    summary="Acknowledge a polled work item (queued → starting)",
)
async def ack_work(request: Request, environment_id: str, work_id: str) -> JSONBytes:
    _only(request, ENVIRONMENT_KEY)
    work, workspace = await _queue(request, environment_id)
    return json_response((await work.ack(workspace, environment_id, work_id)).wire())


@router.post(
    "/work/{work_id}/heartbeat",
    response_model=BetaSelfHostedWorkHeartbeatResponse,
    responses={412: {"model": ErrorBody, "description": "another worker may hold the lease"}},
    summary="Extend a work item's lease (conditional on the last heartbeat)",
)
async def heartbeat_work(
    request: Request,
    environment_id: str,
    work_id: str,
    expected_last_heartbeat: Annotated[str, Query(min_length=1, max_length=64)],
    desired_ttl_seconds: Annotated[int | None, Query(ge=1)] = None,
) -> JSONBytes:
    _only(request, ENVIRONMENT_KEY, SESSIONS_TOKEN)
    work, workspace = await _queue(request, environment_id)
    beat = await work.heartbeat(workspace, environment_id, work_id, expected_last_heartbeat, desired_ttl_seconds)
    return json_response(beat.wire())


@router.post(
    "/work/{work_id}/stop", response_model=BetaSelfHostedWork, summary="Stop a work item (graceful, or forced)"
)
async def stop_work(request: Request, environment_id: str, work_id: str, body: WorkStop | None = None) -> JSONBytes:
    work, workspace = await _queue(request, environment_id)
    force = (body or WorkStop()).force
    return json_response((await work.stop(workspace, environment_id, work_id, force=force)).wire())


@router.get("/work/{work_id}", response_model=BetaSelfHostedWork, summary="Retrieve a work item")
async def retrieve_work(request: Request, environment_id: str, work_id: str) -> JSONBytes:
    _only(request, API_KEY)
    work, workspace = await _queue(request, environment_id)
    return json_response((await work.get(workspace, environment_id, work_id)).wire())


@router.post(
    "/work/{work_id}", response_model=BetaSelfHostedWork, summary="Update a work item's metadata (merge patch)"
)
async def update_work(request: Request, environment_id: str, work_id: str, body: WorkUpdate) -> JSONBytes:
    _only(request, API_KEY)
    work, workspace = await _queue(request, environment_id)
    return json_response((await work.update(workspace, environment_id, work_id, body.metadata)).wire())

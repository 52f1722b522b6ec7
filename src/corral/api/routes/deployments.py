"""``/v1/deployments`` and ``/v1/deployment_runs`` (api.md §15.1): scheduled agents and their runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

from anthropic.types.beta import BetaManagedAgentsDeployment, BetaManagedAgentsDeploymentRun
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from corral.api import deployment_fire, deployment_ops
from corral.api.http import IncludeArchived, JSONBytes, Limit100, PageToken, Timestamp, context, json_response, stamp
from corral.api.routes.common import ERRORS
from corral.api.schemas.deployments import DeploymentCreate, DeploymentUpdate
from corral.db import Where
from corral.db.pages import cursor_from
from corral.deployments import flows
from corral.deployments.records import DeploymentRecord
from corral.errors import InvalidRequest
from corral.ids import rfc3339

router = APIRouter(tags=["deployments"], responses=ERRORS)


class DeploymentPage(BaseModel):
    data: list[BetaManagedAgentsDeployment]
    next_page: str | None


class DeploymentRunPage(BaseModel):
    data: list[BetaManagedAgentsDeploymentRun]
    next_page: str | None


RunLimit = Annotated[int, Query(ge=1, le=1000, description="Maximum results per page.")]


def _wire(record: DeploymentRecord) -> JSONBytes:
    return json_response(record.wire(datetime.now(UTC)))


async def _current(request: Request, deployment_id: str) -> DeploymentRecord:
    services, workspace = context(request)
    return await services.db.read(flows.get, workspace, deployment_id)


@router.post("/v1/deployments", response_model=BetaManagedAgentsDeployment, summary="Create a deployment")
async def create(request: Request, body: DeploymentCreate) -> JSONBytes:
    services, workspace = context(request)
    return _wire(await deployment_ops.create(services, workspace, body))


@router.get(
    "/v1/deployments/{deployment_id}", response_model=BetaManagedAgentsDeployment, summary="Retrieve a deployment"
)
async def retrieve(request: Request, deployment_id: str) -> JSONBytes:
    return _wire(await _current(request, deployment_id))


@router.post(
    "/v1/deployments/{deployment_id}",
    response_model=BetaManagedAgentsDeployment,
    summary="Update a deployment (archived ones are immutable)",
)
async def update(request: Request, deployment_id: str, body: DeploymentUpdate) -> JSONBytes:
    services, workspace = context(request)
    current = await _current(request, deployment_id)
    return _wire(await deployment_ops.update(services, workspace, current, body))


@router.get("/v1/deployments", response_model=DeploymentPage, summary="List deployments, newest first")
async def list_deployments(
    request: Request,
    agent_id: str | None = None,
    created_gte: Annotated[Timestamp | None, Query(alias="created_at[gte]")] = None,
    created_lte: Annotated[Timestamp | None, Query(alias="created_at[lte]")] = None,
    include_archived: IncludeArchived = False,
    status: Literal["active", "paused"] | None = None,
    limit: Limit100 = 20,
    page: PageToken = None,
) -> JSONBytes:
    services, workspace = context(request)
    if status is not None and include_archived:
        raise InvalidRequest("status cannot be combined with include_archived")
    filters = {
        "agent_id": agent_id,
        "created_gte": stamp(created_gte),
        "created_lte": stamp(created_lte),
        "include_archived": include_archived,
        "status": status,
    }
    result = await services.db.read(flows.page, workspace, filters, limit, cursor_from(page, flows.SCOPE))
    now = datetime.now(UTC)
    return json_response({"data": [item.wire(now) for item in result.items], "next_page": result.next_page})


@router.post(
    "/v1/deployments/{deployment_id}/archive",
    response_model=BetaManagedAgentsDeployment,
    summary="Archive a deployment (one-way; its schedule stops)",
)
async def archive(request: Request, deployment_id: str) -> JSONBytes:
    services, workspace = context(request)
    return _wire(await services.db.write(flows.archive, workspace, deployment_id, rfc3339(datetime.now(UTC))))


def _pausing(paused: bool) -> Callable[[Request, str], Awaitable[JSONBytes]]:
    """The handler of ``pause`` (``paused``) or of ``unpause``: the two differ in that flag only."""

    async def set_paused(request: Request, deployment_id: str) -> JSONBytes:
        services, _ = context(request)
        return _wire(await deployment_ops.set_paused(services, await _current(request, deployment_id), paused))

    return set_paused


# named as the functions they were, so the OpenAPI operation ids stay what they were
for _action, _paused, _summary in (
    ("pause", True, "Pause a deployment's schedule"),
    ("unpause", False, "Resume at the next occurrence (no backfill)"),
):
    router.add_api_route(
        f"/v1/deployments/{{deployment_id}}/{_action}",
        _pausing(_paused),
        methods=["POST"],
        response_model=BetaManagedAgentsDeployment,
        summary=_summary,
        name=_action,
    )


@router.post(
    "/v1/deployments/{deployment_id}/run",
    response_model=BetaManagedAgentsDeploymentRun,
    summary="Start a run now (works while paused)",
)
async def run(request: Request, deployment_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await deployment_fire.run_now(services, workspace, deployment_id)).wire())


@router.get(
    "/v1/deployment_runs/{deployment_run_id}",
    response_model=BetaManagedAgentsDeploymentRun,
    summary="Retrieve a deployment run",
)
async def retrieve_run(request: Request, deployment_run_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.db.read(flows.get_run, workspace, deployment_run_id)).wire())


@router.get("/v1/deployment_runs", response_model=DeploymentRunPage, summary="List deployment runs, newest first")
async def list_runs(
    request: Request,
    deployment_id: str | None = None,
    has_error: bool | None = None,
    trigger_type: Literal["schedule", "manual"] | None = None,
    created_gt: Annotated[Timestamp | None, Query(alias="created_at[gt]")] = None,
    created_gte: Annotated[Timestamp | None, Query(alias="created_at[gte]")] = None,
    created_lt: Annotated[Timestamp | None, Query(alias="created_at[lt]")] = None,
    created_lte: Annotated[Timestamp | None, Query(alias="created_at[lte]")] = None,
    limit: RunLimit = 20,
    page: PageToken = None,
) -> JSONBytes:
    services, workspace = context(request)
    where = Where().within(
        "created_at", gt=stamp(created_gt), gte=stamp(created_gte), lt=stamp(created_lt), lte=stamp(created_lte)
    )
    if deployment_id is not None:
        where.equals("deployment_id", deployment_id)
    if has_error is not None:
        where.equals("has_error", int(has_error))
    if trigger_type is not None:
        where.equals("trigger_type", trigger_type)
    cursor = cursor_from(page, flows.RUN_SCOPE)
    result = await services.db.read(flows.runs_page, workspace, where, limit, cursor)
    return json_response({"data": [item.wire() for item in result.items], "next_page": result.next_page})

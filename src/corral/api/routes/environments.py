"""``/v1/environments``: create, retrieve, update, list, archive, delete (api.md §4)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from corral.api.http import IncludeArchived, JSONBytes, Limit100, PageToken, context, json_response, page_json
from corral.api.routes.common import ERRORS
from corral.api.wire import BetaEnvironmentDeleteResponse, Environment, EnvironmentPage
from corral.catalog.params import EnvironmentCreate, EnvironmentUpdate

router = APIRouter(prefix="/v1/environments", tags=["environments"], responses=ERRORS)


@router.post("", response_model=Environment, summary="Create an environment")
async def create_environment(request: Request, body: EnvironmentCreate) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.catalog.create_environment(workspace, body)).wire())


@router.get("/{environment_id}", response_model=Environment, summary="Retrieve an environment")
async def retrieve_environment(request: Request, environment_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.catalog.get_environment(workspace, environment_id)).wire())


@router.post("/{environment_id}", response_model=Environment, summary="Update an environment")
async def update_environment(request: Request, environment_id: str, body: EnvironmentUpdate) -> JSONBytes:
    services, workspace = context(request)
    record = await services.catalog.update_environment(workspace, environment_id, body)
    return json_response(record.wire())


@router.get("", response_model=EnvironmentPage, summary="List environments, newest first")
async def list_environments(
    request: Request, include_archived: IncludeArchived = False, limit: Limit100 = 20, page: PageToken = None
) -> JSONBytes:
    services, workspace = context(request)
    result = await services.catalog.list_environments(
        workspace, include_archived=include_archived, limit=limit, page=page
    )
    return page_json(result, [record.wire() for record in result.items])


@router.post("/{environment_id}/archive", response_model=Environment, summary="Archive an environment (one-way)")
async def archive_environment(request: Request, environment_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.catalog.archive_environment(workspace, environment_id)).wire())


@router.delete(
    "/{environment_id}",
    response_model=BetaEnvironmentDeleteResponse,
    summary="Delete an environment no session uses",
)
async def delete_environment(request: Request, environment_id: str) -> JSONBytes:
    services, workspace = context(request)
    await services.catalog.delete_environment(workspace, environment_id)
    return json_response({"id": environment_id, "type": "environment_deleted"})

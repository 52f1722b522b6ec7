"""``/v1/agents``: create, retrieve (optionally a version), update, list, archive, list versions (api.md §3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from corral.api.http import (
    IncludeArchived,
    JSONBytes,
    Limit100,
    PageToken,
    Timestamp,
    context,
    json_response,
    page_json,
    stamp,
)
from corral.api.routes.common import ERRORS
from corral.api.wire import AgentPage, BetaManagedAgentsAgent
from corral.catalog import AgentFilter
from corral.catalog.params import AgentCreate, AgentUpdate
from corral.resources import skills

router = APIRouter(prefix="/v1/agents", tags=["agents"], responses=ERRORS)


@router.post("", response_model=BetaManagedAgentsAgent, summary="Create an agent (version 1)")
async def create_agent(request: Request, body: AgentCreate) -> JSONBytes:
    services, workspace = context(request)
    await skills.check(services.skills, workspace, body.skills)
    record = await services.catalog.create_agent(workspace, body)
    return json_response(record.wire())


@router.get("/{agent_id}", response_model=BetaManagedAgentsAgent, summary="Retrieve an agent")
async def retrieve_agent(
    request: Request,
    agent_id: str,
    version: Annotated[int | None, Query(ge=1, description="A specific version; omit for the latest.")] = None,
) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.catalog.get_agent(workspace, agent_id, version)).wire())


@router.post("/{agent_id}", response_model=BetaManagedAgentsAgent, summary="Update an agent (new version)")
async def update_agent(request: Request, agent_id: str, body: AgentUpdate) -> JSONBytes:
    services, workspace = context(request)
    if "skills" in body.model_fields_set:
        await skills.check(services.skills, workspace, body.skills)
    return json_response((await services.catalog.update_agent(workspace, agent_id, body)).wire())


@router.get("", response_model=AgentPage, summary="List agents, newest first")
async def list_agents(
    request: Request,
    created_gte: Annotated[Timestamp | None, Query(alias="created_at[gte]")] = None,
    created_lte: Annotated[Timestamp | None, Query(alias="created_at[lte]")] = None,
    include_archived: IncludeArchived = False,
    limit: Limit100 = 20,
    page: PageToken = None,
) -> JSONBytes:
    services, workspace = context(request)
    flt = AgentFilter(workspace, include_archived, stamp(created_gte), stamp(created_lte))
    result = await services.catalog.list_agents(flt, limit=limit, page=page)
    return page_json(result, [record.wire() for record in result.items])


@router.post("/{agent_id}/archive", response_model=BetaManagedAgentsAgent, summary="Archive an agent (one-way)")
async def archive_agent(request: Request, agent_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.catalog.archive_agent(workspace, agent_id)).wire())


@router.get("/{agent_id}/versions", response_model=AgentPage, summary="List an agent's versions, newest first")
async def list_agent_versions(
    request: Request, agent_id: str, limit: Limit100 = 20, page: PageToken = None
) -> JSONBytes:
    services, workspace = context(request)
    result = await services.catalog.list_agent_versions(workspace, agent_id, limit=limit, page=page)
    return page_json(result, [record.wire() for record in result.items])

"""``/v1/memory_stores`` (api.md §12): memory stores, their memories and memory versions.

Invariants: every body sent here is a record's ``wire(view)``; ``view`` defaults to ``full`` on retrieves and to
``basic`` on creates, updates and lists, as the SDK documents; writes record the caller's API key as their author.
A memory's update is served on ``POST`` (what the SDK sends) and ``PATCH`` (what the docs' tables say).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from corral.api.http import IncludeArchived, JSONBytes, Limit100, PageToken, Timestamp, context, json_response, stamp
from corral.api.routes.common import ERRORS
from corral.api.wire import (
    BetaManagedAgentsDeletedMemory,
    BetaManagedAgentsDeletedMemoryStore,
    BetaManagedAgentsMemory,
    BetaManagedAgentsMemoryStore,
    BetaManagedAgentsMemoryVersion,
    MemoryPage,
    MemoryStorePage,
    MemoryVersionPage,
)
from corral.catalog import Principal
from corral.memory import VersionFilter, View
from corral.memory.params import SHA256, MemoryCreate, MemoryUpdate, StoreCreate, StoreUpdate
from corral.memory.store import page_size
from corral.paging import Page

router = APIRouter(prefix="/v1/memory_stores", tags=["memory stores"], responses=ERRORS)
STORE = "/{memory_store_id}"
MEMORY = STORE + "/memories/{memory_id}"
VERSION = STORE + "/memory_versions/{memory_version_id}"

ViewQuery = Annotated[View | None, Query(description="basic: no content; full: with content")]
Created = Annotated[Timestamp | None, Query(alias="created_at[gte]")]
CreatedBefore = Annotated[Timestamp | None, Query(alias="created_at[lte]")]


def _key_id(request: Request) -> str | None:
    principal: Principal = request.scope["state"]["principal"]
    return principal.key_id


def _page(result: Page, view: View) -> JSONBytes:
    return json_response({"data": [item.wire(view) for item in result.items], "next_page": result.next_page})


# ---------------------------------------------------------------------- stores


@router.post("", response_model=BetaManagedAgentsMemoryStore, summary="Create a memory store")
async def create_store(request: Request, body: StoreCreate) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.memory.create_store(workspace, body)).wire())


@router.get(STORE, response_model=BetaManagedAgentsMemoryStore, summary="Retrieve a memory store")
async def retrieve_store(request: Request, memory_store_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.memory.get_store(workspace, memory_store_id)).wire())


@router.post(STORE, response_model=BetaManagedAgentsMemoryStore, summary="Update a memory store")
async def update_store(request: Request, memory_store_id: str, body: StoreUpdate) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.memory.update_store(workspace, memory_store_id, body)).wire())


@router.get("", response_model=MemoryStorePage, summary="List memory stores, newest first")
async def list_stores(
    request: Request,
    created_gte: Created = None,
    created_lte: CreatedBefore = None,
    include_archived: IncludeArchived = False,
    limit: Limit100 = 20,
    page: PageToken = None,
) -> JSONBytes:
    services, workspace = context(request)
    created = stamp(created_gte), stamp(created_lte)
    result = await services.memory.list_stores(
        workspace, include_archived=include_archived, created=created, limit=limit, page=page
    )
    return json_response({"data": [record.wire() for record in result.items], "next_page": result.next_page})


@router.delete(
    STORE,
    response_model=BetaManagedAgentsDeletedMemoryStore,
    summary="Delete a memory store, its memories and versions",
)
async def delete_store(request: Request, memory_store_id: str) -> JSONBytes:
    services, workspace = context(request)
    await services.memory.delete_store(workspace, memory_store_id)
    return json_response({"id": memory_store_id, "type": "memory_store_deleted"})


@router.post(
    STORE + "/archive", response_model=BetaManagedAgentsMemoryStore, summary="Archive a memory store (one-way)"
)
async def archive_store(request: Request, memory_store_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.memory.archive_store(workspace, memory_store_id)).wire())


# ---------------------------------------------------------------------- memories


@router.post(STORE + "/memories", response_model=BetaManagedAgentsMemory, summary="Create a memory")
async def create_memory(
    request: Request, memory_store_id: str, body: MemoryCreate, view: ViewQuery = None
) -> JSONBytes:
    services, workspace = context(request)
    record = await services.memory.create_memory(workspace, memory_store_id, body, _key_id(request))
    return json_response(record.wire(view or "basic"))


@router.get(MEMORY, response_model=BetaManagedAgentsMemory, summary="Retrieve a memory")
async def retrieve_memory(request: Request, memory_store_id: str, memory_id: str, view: ViewQuery = None) -> JSONBytes:
    services, workspace = context(request)
    record = await services.memory.get_memory(workspace, memory_store_id, memory_id)
    return json_response(record.wire(view or "full"))


@router.post(MEMORY, response_model=BetaManagedAgentsMemory, summary="Update or rename a memory")
async def update_memory(
    request: Request, memory_store_id: str, memory_id: str, body: MemoryUpdate, view: ViewQuery = None
) -> JSONBytes:
    services, workspace = context(request)
    record = await services.memory.update_memory(workspace, memory_store_id, memory_id, body, _key_id(request))
    return json_response(record.wire(view or "basic"))


@router.patch(MEMORY, response_model=BetaManagedAgentsMemory, summary="Update or rename a memory (as POST)")
async def patch_memory(
    request: Request, memory_store_id: str, memory_id: str, body: MemoryUpdate, view: ViewQuery = None
) -> JSONBytes:
    return await update_memory(request, memory_store_id, memory_id, body, view)


@router.get(STORE + "/memories", response_model=MemoryPage, summary="List memories by path")
async def list_memories(
    request: Request,
    memory_store_id: str,
    depth: Annotated[int, Query(ge=0, description="0: every memory below the prefix; n: n levels")] = 0,
    limit: Limit100 = 20,
    page: PageToken = None,
    path_prefix: Annotated[str | None, Query(description="Ends with '/'; matches whole segments")] = None,
    view: ViewQuery = None,
) -> JSONBytes:
    services, workspace = context(request)
    shown: View = view or "basic"
    result = await services.memory.list_memories(
        workspace, memory_store_id, prefix=path_prefix, depth=depth, limit=page_size(limit, shown), page=page
    )
    return _page(result, shown)


@router.delete(MEMORY, response_model=BetaManagedAgentsDeletedMemory, summary="Delete a memory (its versions stay)")
async def delete_memory(
    request: Request,
    memory_store_id: str,
    memory_id: str,
    expected_content_sha256: Annotated[str | None, Query(pattern=SHA256)] = None,
) -> JSONBytes:
    services, workspace = context(request)
    await services.memory.delete_memory(
        workspace, memory_store_id, memory_id, expected_content_sha256, _key_id(request)
    )
    return json_response({"id": memory_id, "type": "memory_deleted"})


# ---------------------------------------------------------------------- versions


@router.get(STORE + "/memory_versions", response_model=MemoryVersionPage, summary="List memory versions, newest first")
async def list_versions(
    request: Request,
    memory_store_id: str,
    api_key_id: str | None = None,
    created_gte: Created = None,
    created_lte: CreatedBefore = None,
    limit: Limit100 = 20,
    memory_id: str | None = None,
    operation: Literal["created", "modified", "deleted"] | None = None,
    page: PageToken = None,
    service_account_id: str | None = None,
    session_id: str | None = None,
    view: ViewQuery = None,
) -> JSONBytes:
    services, workspace = context(request)
    shown: View = view or "basic"
    filters = VersionFilter(
        memory_id=memory_id,
        operation=operation,
        api_key_id=api_key_id,
        session_id=session_id,
        service_account_id=service_account_id,
        created_gte=stamp(created_gte),
        created_lte=stamp(created_lte),
    )
    result = await services.memory.list_versions(
        workspace, memory_store_id, filters, limit=page_size(limit, shown), page=page
    )
    return _page(result, shown)


@router.get(VERSION, response_model=BetaManagedAgentsMemoryVersion, summary="Retrieve a memory version")
async def retrieve_version(
    request: Request, memory_store_id: str, memory_version_id: str, view: ViewQuery = None
) -> JSONBytes:
    services, workspace = context(request)
    record = await services.memory.get_version(workspace, memory_store_id, memory_version_id)
    return json_response(record.wire(view or "full"))


@router.post(
    VERSION + "/redact",
    response_model=BetaManagedAgentsMemoryVersion,
    summary="Redact a memory version (its path and content are erased)",
)
async def redact_version(request: Request, memory_store_id: str, memory_version_id: str) -> JSONBytes:
    services, workspace = context(request)
    record = await services.memory.redact_version(workspace, memory_store_id, memory_version_id, _key_id(request))
    return json_response(record.wire("full"))

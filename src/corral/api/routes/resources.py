"""``/v1/sessions/{session_id}/resources``: add, list, retrieve, update (token rotation), delete (api.md §8).

Invariants:

* Every change goes through ``SessionStore.edit_resources``: under the session's row lock, all or nothing, never
  on an archived or terminated session (400 ``session_terminated``); a repository's token is written or deleted
  in the same transaction as its resource and never appears in an answer.
* ``memory_store`` resources attach at creation only and stay for the session's life: adding or deleting one is
  a 400. Only ``github_repository`` resources take an ``authorization_token`` (others: 400).
* ``list`` pages in ``(created_at, id)`` order with a keyset cursor (``limit`` 1–1000; omitted: every resource).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request

from corral._types import JSONObject
from corral.api import resource_ops
from corral.api.http import JSONBytes, PageToken, check_id, context, json_response
from corral.api.routes.common import ERRORS
from corral.api.schemas.resources import MemoryStoreParams, ResourceAdd, ResourceUpdate
from corral.api.wire import (
    BetaManagedAgentsDeleteSessionResource,
    ResourcePage,
    SessionResource,
)
from corral.db import Flow
from corral.errors import ErrorCode, InvalidRequest
from corral.ids import now, rfc3339
from corral.paging import Cursor, decode_cursor
from corral.session.resources import Resources, check_open, find, resources_of
from corral.vault import resource_tokens

router = APIRouter(prefix="/v1/sessions/{session_id}/resources", tags=["session resources"], responses=ERRORS)

SCOPE = "session_resources"
ORDER = "asc"
Limit1000 = Annotated[
    int | None, Query(ge=1, le=1000, description="Maximum resources per page (omitted: every resource).")
]


def _ids(session_id: str, resource_id: str | None = None) -> tuple[str, str]:
    sid = check_id("session", session_id, "session")
    return sid, "" if resource_id is None else check_id("resource", resource_id, "session resource")


@router.post(
    "", response_model=SessionResource, summary="Add a session resource (a file, or a repository as the docs allow)"
)
async def add(request: Request, session_id: str, body: Annotated[ResourceAdd, Body()]) -> JSONBytes:
    services, workspace = context(request)
    sid, _ = _ids(session_id)
    if isinstance(body, MemoryStoreParams):
        raise InvalidRequest("memory stores attach at session creation only")
    record = await services.sessions.get_session(sid, workspace)
    check_open(record)  # before reading files: a clear refusal first
    environment = await services.catalog.get_environment(workspace, record.environment_id)
    resource_ops.refuse_on_self_hosted(environment.config, [body])
    built = await resource_ops.build(services, workspace, [body])
    (resource,) = built.resources

    def append(resources: Resources) -> Resources:
        if resource["type"] == "file" and sum(r["type"] == "file" for r in resources) >= resource_ops.FILES_MAX:
            raise InvalidRequest(f"a session holds at most {resource_ops.FILES_MAX} file resources")
        return [*resources, resource]

    await services.sessions.edit_resources(sid, workspace, append, also=built.also(services, workspace, sid))
    return json_response(resource)


def _page(resources: Resources, limit: int | None, page: str | None, scope: str) -> JSONObject:
    """One page in ``(created_at, id)`` order; a cursor serves only the session (``scope``) that made it."""
    ordered = sorted(resources, key=lambda r: (str(r["created_at"]), str(r["id"])))
    if page:
        cursor = decode_cursor(page, order=ORDER, scope=scope)
        if len(cursor.key) != 2 or not all(isinstance(part, str) for part in cursor.key):
            raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
        last = (str(cursor.key[0]), str(cursor.key[1]))
        ordered = [r for r in ordered if (str(r["created_at"]), str(r["id"])) > last]
    shown = ordered if limit is None else ordered[:limit]
    more = len(shown) < len(ordered)
    token = None
    if more and shown:
        token = Cursor([str(shown[-1]["created_at"]), str(shown[-1]["id"])], "next", ORDER, scope).encode()
    return {"data": shown, "next_page": token}


@router.get("", response_model=ResourcePage, summary="List session resources")
async def list_resources(
    request: Request, session_id: str, limit: Limit1000 = None, page: PageToken = None
) -> JSONBytes:
    services, workspace = context(request)
    sid, _ = _ids(session_id)
    record = await services.sessions.get_session(sid, workspace)
    return json_response(_page(resources_of(record.doc), limit, page, f"{SCOPE}:{sid}"))


@router.get("/{resource_id}", response_model=SessionResource, summary="Retrieve a session resource")
async def retrieve(request: Request, session_id: str, resource_id: str) -> JSONBytes:
    services, workspace = context(request)
    sid, rid = _ids(session_id, resource_id)
    record = await services.sessions.get_session(sid, workspace)
    return json_response(find(resources_of(record.doc), rid))


@router.post("/{resource_id}", response_model=SessionResource, summary="Update a session resource")
async def update(request: Request, session_id: str, resource_id: str, body: ResourceUpdate) -> JSONBytes:
    services, workspace = context(request)
    sid, rid = _ids(session_id, resource_id)
    stamp = rfc3339(now())
    sealed = resource_tokens.seal(services.vaults.keyring, rid, body.authorization_token)

    def rotate(resources: Resources) -> Resources:
        resource = find(resources, rid)
        if resource["type"] != "github_repository":
            raise InvalidRequest(
                f"session resource {rid} is a {resource['type']} resource: only github_repository resources"
                " take an authorization_token"
            )
        resource["updated_at"] = stamp
        return resources

    def store() -> Flow[None]:
        return resource_tokens.store(workspace, sid, rid, sealed, stamp)

    _, resources = await services.sessions.edit_resources(sid, workspace, rotate, also=store)
    return json_response(find(resources, rid))


@router.delete("/{resource_id}", response_model=BetaManagedAgentsDeleteSessionResource, summary="Delete a resource")
async def delete(request: Request, session_id: str, resource_id: str) -> JSONBytes:
    services, workspace = context(request)
    sid, rid = _ids(session_id, resource_id)

    def remove(resources: Resources) -> Resources:
        if find(resources, rid)["type"] == "memory_store":
            raise InvalidRequest("memory stores attach at session creation only and stay for the session's life")
        return [r for r in resources if r["id"] != rid]

    await services.sessions.edit_resources(sid, workspace, remove, also=lambda: resource_tokens.remove(sid, rid))
    return json_response({"id": rid, "type": "session_resource_deleted"})

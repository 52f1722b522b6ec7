"""Operational endpoints: ``/healthz`` (public readiness) and the operator's routes, which need an admin key (the
gate answers a workspace key with 403): ``/v1/corral/stats`` (live-connection counters), ``/metrics`` (Prometheus)
and the API key lifecycle under ``/v1/corral/keys`` (create, list, revoke).

Invariants: a key's secret appears in exactly one response, the one that created it; a listing shows its prefix
and last use, never the secret nor its hash. Revoking ends the key's open event streams in this process at once
(other processes see it at their streams' next keep-alive, and every process on the key's next request).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from corral.api.http import JSONBytes, check_id, context, json_response
from corral.api.limits import KeyStreams
from corral.api.routes.common import ERRORS
from corral.catalog.keys import DEFAULT_WORKSPACE_NAME
from corral.catalog.params.base import NO_NUL
from corral.observe import metrics
from corral.wire import Strict

router = APIRouter(tags=["corral"])


class Health(BaseModel):
    status: str


class Stats(BaseModel):
    open_streams: int
    watched_sessions: int


class KeyCreate(Strict):
    workspace: Annotated[str, Field(min_length=1, max_length=256), NO_NUL] = DEFAULT_WORKSPACE_NAME
    name: Annotated[str, Field(max_length=256), NO_NUL] = ""
    admin: bool = False


class ApiKey(BaseModel):
    type: str
    id: str
    workspace_id: str
    name: str
    prefix: str | None
    admin: bool
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class NewApiKey(ApiKey):
    secret: str


class ApiKeyList(BaseModel):
    data: list[ApiKey]
    next_page: str | None


@router.get("/healthz", response_model=Health, summary="Readiness: 200 once the server has opened its database")
async def healthz() -> JSONBytes:
    return json_response({"status": "ok"})


@router.get(
    "/v1/corral/stats", response_model=Stats, responses=ERRORS, summary="corral extension (admin): live SSE streams"
)
async def stats(request: Request) -> JSONBytes:
    services, _ = context(request)
    return json_response(
        {"open_streams": services.streams.open_streams, "watched_sessions": len(services.sessions.broker.watched)}
    )


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    """This process's Prometheus metrics, for an admin key (the gate refuses any other)."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


@router.post(
    "/v1/corral/keys", response_model=NewApiKey, responses=ERRORS, summary="corral extension (admin): create a key"
)
async def create_key(request: Request, body: KeyCreate) -> JSONBytes:
    services, _ = context(request)
    secret, record = await services.catalog.issue_key(body.workspace, body.name, admin=body.admin)
    return json_response({**record.wire(), "secret": secret})


@router.get(
    "/v1/corral/keys", response_model=ApiKeyList, responses=ERRORS, summary="corral extension (admin): list keys"
)
async def list_keys(request: Request) -> JSONBytes:
    services, _ = context(request)
    return json_response({"data": [key.wire() for key in await services.catalog.list_keys()], "next_page": None})


@router.post(
    "/v1/corral/keys/{key_id}/revoke",
    response_model=ApiKey,
    responses=ERRORS,
    summary="corral extension (admin): revoke a key",
)
async def revoke_key(request: Request, key_id: str) -> JSONBytes:
    services, _ = context(request)
    record = await services.catalog.revoke_key(check_id("api_key", key_id, "API key"))
    streams: KeyStreams = request.app.state.key_streams
    streams.revoke(record.id)
    return json_response(record.wire())

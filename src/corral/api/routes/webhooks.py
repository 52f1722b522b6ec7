"""``/v1/corral/webhooks``: corral's own webhook endpoint management (a corral extension; the hosted API registers
endpoints in its console, api.md §18). The signing secret (``whsec_…``) is in the create response only."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from corral.api.http import JSONBytes, Limit100, PageToken, context, json_response
from corral.api.routes.common import ERRORS
from corral.catalog.params import Strict
from corral.db.pages import cursor_from
from corral.webhooks import admin, endpoints

router = APIRouter(prefix="/v1/corral/webhooks", tags=["webhooks"], responses=ERRORS)


class WebhookEndpoint(BaseModel):
    type: Literal["webhook_endpoint"]
    id: str
    url: str
    event_types: list[str] | None
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None
    created_at: str


class CreatedWebhookEndpoint(WebhookEndpoint):
    secret: str


class WebhookEndpointPage(BaseModel):
    data: list[WebhookEndpoint]
    next_page: str | None


class DeletedWebhookEndpoint(BaseModel):
    id: str
    type: Literal["webhook_endpoint_deleted"]


class WebhookCreate(Strict):
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    event_types: Annotated[list[str], Field(min_length=1, max_length=100)] | None = None


@router.post(
    "",
    response_model=CreatedWebhookEndpoint,
    summary="Register a webhook endpoint (the response holds its signing secret, shown once)",
)
async def create(request: Request, body: WebhookCreate) -> JSONBytes:
    services, workspace = context(request)
    allow_private = services.settings.webhook_allow_private
    endpoint, secret = await admin.register(
        services.db, workspace, body.url, body.event_types, allow_private=allow_private
    )
    return json_response({**endpoint.wire(), "secret": secret})


@router.get("/{endpoint_id}", response_model=WebhookEndpoint, summary="Retrieve a webhook endpoint")
async def retrieve(request: Request, endpoint_id: str) -> JSONBytes:
    services, workspace = context(request)
    return json_response((await services.db.read(endpoints.get, workspace, endpoint_id)).wire())


@router.get("", response_model=WebhookEndpointPage, summary="List webhook endpoints, newest first")
async def list_endpoints(request: Request, limit: Limit100 = 20, page: PageToken = None) -> JSONBytes:
    services, workspace = context(request)
    result = await services.db.read(endpoints.page, workspace, limit, cursor_from(page, endpoints.SCOPE))
    return json_response({"data": [item.wire() for item in result.items], "next_page": result.next_page})


@router.delete(
    "/{endpoint_id}",
    response_model=DeletedWebhookEndpoint,
    summary="Delete a webhook endpoint and its pending deliveries",
)
async def delete(request: Request, endpoint_id: str) -> JSONBytes:
    services, workspace = context(request)
    await services.db.write(endpoints.delete, workspace, endpoint_id)
    return json_response({"id": endpoint_id, "type": "webhook_endpoint_deleted"})

"""Operational endpoints: ``/healthz`` (public readiness) and ``/v1/corral/stats`` (live-connection counters)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from corral.api.http import JSONBytes, context, json_response
from corral.api.routes.common import ERRORS

router = APIRouter(tags=["corral"])


class Health(BaseModel):
    status: str


class Stats(BaseModel):
    open_streams: int
    watched_sessions: int


@router.get("/healthz", response_model=Health, summary="Readiness: 200 once the server has opened its database")
async def healthz() -> JSONBytes:
    return json_response({"status": "ok"})


@router.get(
    "/v1/corral/stats", response_model=Stats, responses=ERRORS, summary="corral extension: live SSE connections"
)
async def stats(request: Request) -> JSONBytes:
    services, _ = context(request)
    return json_response(
        {"open_streams": services.streams.open_streams, "watched_sessions": len(services.sessions.broker.watched)}
    )

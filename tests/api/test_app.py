"""The application in-process (the real app and services over an ASGI transport): the gate's options and the
OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from corral.api.app import create_app
from corral.config import Settings

pytestmark = pytest.mark.anyio

BETA = {"anthropic-beta": "files-api-2025-04-14, managed-agents-2026-04-01"}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'corral.db'}",
        api_key="sk-corral-admin",
        workers=0,
        strict_beta_header=True,
        max_request_bytes=2000,
    )
    made = create_app(settings)
    async with made.router.lifespan_context(made):
        yield made


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    headers = {"x-api-key": "sk-corral-admin"}
    async with httpx.AsyncClient(transport=transport, base_url="http://corral", headers=headers) as client:
        yield client


async def test_strict_beta_hides_the_api_without_the_header(http: httpx.AsyncClient) -> None:
    hidden = await http.get("/v1/agents")
    assert hidden.status_code == 404 and hidden.json()["error"]["type"] == "not_found_error"
    assert (await http.get("/v1/agents", headers=BETA)).status_code == 200
    assert (await http.get("/healthz")).status_code == 200


async def test_the_body_limit_and_request_ids(http: httpx.AsyncClient) -> None:
    body = {"name": "a", "model": "claude-m", "system": "x" * 3000}
    too_big = await http.post("/v1/agents", json=body, headers=BETA)
    assert too_big.status_code == 413 and too_big.json()["error"]["type"] == "request_too_large"
    ids = {too_big.headers["request-id"]}
    for response in (
        await http.post("/v1/agents", json={"name": "a", "model": "claude-m"}, headers=BETA),
        await http.get("/v1/agents", headers={**BETA, "x-api-key": "wrong"}),
        await http.get("/v1/agents/agent_nothing", headers=BETA),
    ):
        assert response.headers["request-id"].startswith("req_")
        ids.add(response.headers["request-id"])
    assert len(ids) == 4


async def test_openapi_documents_the_wire(http: httpx.AsyncClient) -> None:
    spec: dict[str, Any] = (await http.get("/openapi.json")).json()
    operations = [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]
    expected = {
        ("/v1/agents", "post"), ("/v1/agents", "get"), ("/v1/agents/{agent_id}", "get"),
        ("/v1/agents/{agent_id}", "post"), ("/v1/agents/{agent_id}/archive", "post"),
        ("/v1/agents/{agent_id}/versions", "get"), ("/v1/environments", "post"), ("/v1/environments", "get"),
        ("/v1/environments/{environment_id}", "get"), ("/v1/environments/{environment_id}", "post"),
        ("/v1/environments/{environment_id}", "delete"), ("/v1/environments/{environment_id}/archive", "post"),
        ("/v1/sessions", "post"), ("/v1/sessions", "get"), ("/v1/sessions/{session_id}", "get"),
        ("/v1/sessions/{session_id}", "post"), ("/v1/sessions/{session_id}", "delete"),
        ("/v1/sessions/{session_id}/archive", "post"), ("/v1/sessions/{session_id}/events", "post"),
        ("/v1/sessions/{session_id}/events", "get"), ("/v1/sessions/{session_id}/events/stream", "get"),
    }  # fmt: skip
    assert expected <= {(path, method) for path, method, _ in operations}
    for path, _, operation in operations:
        assert "422" not in operation["responses"]
        if path.startswith("/v1/"):
            assert {"400", "401", "404"} <= set(operation["responses"]) and operation["security"]
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "BetaManagedAgentsAgent" in schemas
    stream = spec["paths"]["/v1/sessions/{session_id}/events/stream"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    params = {p["name"] for p in spec["paths"]["/v1/sessions"]["get"]["parameters"]}
    assert {"statuses[]", "created_at[gte]", "order", "page"} <= params
    agent_body = schemas["AgentCreate"]
    assert agent_body["additionalProperties"] is False and agent_body["properties"]["name"]["maxLength"] == 256

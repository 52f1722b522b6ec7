"""With ``CORRAL_STRICT_BETA=1`` the memory routes answer the header the SDK sends for them
(``agent-memory-2026-07-22``) as well as ``managed-agents-2026-04-01``; the files and skills routes want none (their
SDK calls send none); other routes still want the latter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from corral.api.app import create_app
from corral.config import Settings

pytestmark = pytest.mark.anyio
KEY = "sk-corral-admin"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'corral.db'}",
        api_key=KEY,
        workers=0,
        strict_beta_header=True,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://corral", headers={"x-api-key": KEY}) as made:
            yield made


async def test_the_memory_beta_opens_the_memory_routes_only(http: httpx.AsyncClient) -> None:
    memory = {"anthropic-beta": "agent-memory-2026-07-22"}
    assert (await http.get("/v1/memory_stores")).status_code == 404
    made = await http.post("/v1/memory_stores", json={"name": "beta"}, headers=memory)
    assert made.status_code == 200
    assert (await http.get(f"/v1/memory_stores/{made.json()['id']}/memories", headers=memory)).status_code == 200
    managed = {"anthropic-beta": "managed-agents-2026-04-01"}
    assert (await http.get("/v1/memory_stores", headers=managed)).status_code == 200
    assert (await http.get("/v1/agents", headers=memory)).status_code == 404
    assert (await http.get("/v1/memory_stores_x", headers=memory)).status_code == 404


async def test_files_and_skills_are_never_gated(http: httpx.AsyncClient) -> None:
    """The SDK's Files and Skills calls carry no beta header (api.md §21): strict mode answers them without one."""
    assert (await http.get("/v1/files")).status_code == 200
    assert (await http.get("/v1/skills")).status_code == 200
    assert (await http.get("/v1/sessions")).status_code == 404

"""Regressions for what tests/fuzz found, each on both engines through the real app.

* A name stored in a column of its own (an environment's, an API key's and its workspace's, an environment
  key's) holding U+0000 was a 500 on PostgreSQL (its ``text`` cannot hold NUL); it is a 400 on both engines.
"""

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
async def http(db_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url, api_key=KEY, workers=0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://corral", headers={"x-api-key": KEY}) as c:
            yield c


async def test_an_environment_name_with_nul_is_a_400_on_both_engines(http: httpx.AsyncClient) -> None:
    created = await http.post("/v1/environments", json={"name": "a\x00b", "config": {"type": "cloud"}})
    assert created.status_code == 400, created.text
    assert created.json()["error"]["type"] == "invalid_request_error"
    good = await http.post("/v1/environments", json={"name": "ok", "config": {"type": "cloud"}})
    assert good.status_code == 200, good.text
    renamed = await http.post(f"/v1/environments/{good.json()['id']}", json={"name": "\x00"})
    assert renamed.status_code == 400, renamed.text


async def test_an_api_key_name_or_workspace_with_nul_is_a_400_on_both_engines(http: httpx.AsyncClient) -> None:
    for body in ({"name": "a\x00b"}, {"workspace": "w\x00"}):
        made = await http.post("/v1/corral/keys", json=body)
        assert made.status_code == 400, made.text
        assert made.json()["error"]["type"] == "invalid_request_error"
    env = await http.post("/v1/environments", json={"name": "e", "config": {"type": "self_hosted"}})
    assert env.status_code == 200, env.text
    key = await http.post(f"/v1/environments/{env.json()['id']}/keys", json={"name": "k\x00"})
    assert key.status_code == 400, key.text

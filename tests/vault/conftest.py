"""Fixtures of the vault tests: one live ``corral serve`` per engine for the package, the official SDK over
loopback, and a record of every response body the SDK received (for the canary scans).

The server runs API-only (``CORRAL_WORKERS=0``) with its vault master key in its data directory (made on first
start, as an operator's would be). Tests keep their objects apart by creating their own vaults.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import anyio
import httpx2
import pytest

from tests.conftest import ENGINES, database_url
from tests.live import LiveServer, live_server


class Bodies:
    """Every response body the SDK clients of this package received, in order."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def __call__(self, response: httpx2.Response) -> None:
        response.read()
        self.seen.append(response.content)


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    engine: str = request.param
    tmp = tmp_path_factory.mktemp(f"vault-{engine}")
    db_url = anyio.run(database_url, engine, tmp)
    # the test OAuth and MCP servers run on loopback, which the egress rule refuses unless the operator allows it
    env = {"CORRAL_WORKERS": "0", "CORRAL_EGRESS_ALLOW_PRIVATE": "127.0.0.1"}
    with live_server(db_url, data_dir=tmp / "data", env=env) as running:
        yield running


@pytest.fixture(scope="package")
def bodies() -> Bodies:
    return Bodies()


def sdk(server: LiveServer, bodies: Bodies, api_key: str | None = None) -> anthropic.Anthropic:
    http = httpx2.Client(event_hooks={"response": [bodies]}, trust_env=False)
    return anthropic.Anthropic(
        base_url=server.base_url, api_key=api_key or server.api_key, max_retries=0, http_client=http
    )


@pytest.fixture(scope="package")
def client(server: LiveServer, bodies: Bodies) -> Iterator[anthropic.Anthropic]:
    with sdk(server, bodies) as made:
        yield made


@pytest.fixture(scope="package")
def other(server: LiveServer, bodies: Bodies) -> Iterator[anthropic.Anthropic]:
    """A client of a second workspace (a key made by ``LiveServer.create_key``)."""
    with sdk(server, bodies, server.create_key("other")) as made:
        yield made

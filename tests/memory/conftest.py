"""Fixtures of the memory tests: one live ``corral serve`` per engine for the package (API only), the official SDK
over loopback with the admin key, with a key of its own (whose id the versions record) and with a key of a
second workspace.

Tests keep their objects apart by creating their own stores.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import anyio
import httpx2
import pytest

from tests.conftest import ENGINES, database_url
from tests.live import LiveServer, live_server


def sdk(server: LiveServer, api_key: str | None = None) -> anthropic.Anthropic:
    http = httpx2.Client(trust_env=False)
    return anthropic.Anthropic(
        base_url=server.base_url, api_key=api_key or server.api_key, max_retries=0, http_client=http
    )


def async_sdk(server: LiveServer, api_key: str | None = None) -> anthropic.AsyncAnthropic:
    http = httpx2.AsyncClient(trust_env=False)
    return anthropic.AsyncAnthropic(
        base_url=server.base_url, api_key=api_key or server.api_key, max_retries=0, http_client=http
    )


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    engine: str = request.param
    tmp = tmp_path_factory.mktemp(f"memory-{engine}")
    db_url = anyio.run(database_url, engine, tmp)
    with live_server(db_url, data_dir=tmp / "data", env={"CORRAL_WORKERS": "0"}) as running:
        yield running


@pytest.fixture(scope="package")
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with sdk(server) as made:
        yield made


@pytest.fixture(scope="package")
def key(server: LiveServer) -> str:
    """A key of the default workspace made with ``corral keys create`` (it has an id; the admin key has none)."""
    return server.create_key("default")


@pytest.fixture(scope="package")
def keyed(server: LiveServer, key: str) -> Iterator[anthropic.Anthropic]:
    with sdk(server, key) as made:
        yield made


@pytest.fixture(scope="package")
def other(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    """A client of a second workspace."""
    with sdk(server, server.create_key("other")) as made:
        yield made

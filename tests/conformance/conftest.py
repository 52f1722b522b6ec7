"""Fixtures of the conformance suite: one live ``corral serve`` per engine for the whole package, driven through the
official ``anthropic`` SDK over loopback.

``server`` is package-scoped (starting a server costs seconds); tests keep their objects apart by
creating their own, so sharing a server is safe. The server runs API-only (``CORRAL_WORKERS=0``): no model is
called, so a session's status changes only through what the tests do.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import anyio
import pytest

from tests.conftest import ENGINES, database_url
from tests.live import LiveServer, live_server


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    engine: str = request.param
    tmp = tmp_path_factory.mktemp(f"corral-{engine}")
    db_url = anyio.run(database_url, engine, tmp)
    with live_server(
        db_url, data_dir=tmp / "data", env={"CORRAL_WORKERS": "0", "CORRAL_SSE_PING_SECONDS": "0.5"}
    ) as running:
        yield running


def sdk(server: LiveServer, api_key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key=api_key or server.api_key, max_retries=0)


@pytest.fixture(scope="package")
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with sdk(server) as made:
        yield made


@pytest.fixture(scope="package")
def other_key(server: LiveServer) -> str:
    """A key of a second workspace (``LiveServer.create_key``)."""
    return server.create_key("other")


@pytest.fixture(scope="package")
def other(server: LiveServer, other_key: str) -> Iterator[anthropic.Anthropic]:
    with sdk(server, other_key) as made:
        yield made

"""Fixtures of the files tests: one live ``corral serve`` per engine for the package (local blobs under its data
directory, a small blob limit so the 413 paths stay cheap), the official SDK over loopback, a client of a second
workspace, and the S3-protocol server of ``tests.blobs`` for the S3 backend's run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import anyio
import httpx2
import pytest

from tests.blobs.conftest import s3_endpoint
from tests.conftest import ENGINES, database_url
from tests.live import LiveServer, live_server

__all__ = ["s3_endpoint"]

MIB = 1024 * 1024
BLOB_LIMIT = 6 * MIB


def sdk(server: LiveServer, api_key: str | None = None) -> anthropic.Anthropic:
    http = httpx2.Client(trust_env=False)
    return anthropic.Anthropic(
        base_url=server.base_url, api_key=api_key or server.api_key, max_retries=0, http_client=http
    )


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    engine: str = request.param
    tmp = tmp_path_factory.mktemp(f"files-{engine}")
    db_url = anyio.run(database_url, engine, tmp)
    env = {"CORRAL_WORKERS": "0", "CORRAL_BLOB_MAX_BYTES": str(BLOB_LIMIT)}
    with live_server(db_url, data_dir=tmp / "data", env=env) as running:
        yield running


@pytest.fixture(scope="package")
def blob_dir(server: LiveServer) -> Path:
    return server.data_dir / "blobs"


@pytest.fixture(scope="package")
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with sdk(server) as made:
        yield made


@pytest.fixture(scope="package")
def other(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    """A client of a second workspace (a key made with ``corral keys create``)."""
    with sdk(server, server.create_key("other")) as made:
        yield made

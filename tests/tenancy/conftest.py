"""Fixtures of the tenancy tests: one live API-only ``corral serve`` per engine for the package, with two streams
per key at most, keep-alives every half second (so a stream notices a revocation made by another process
quickly) and small quotas (``QUOTAS``: tests that fill one do it in a workspace of their own), and the official
SDK with the server's admin key (``client``) or a fresh key of a workspace (``keyed``).

Tests keep apart by making their own keys and workspaces.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import anthropic
import httpx
import pytest

from tests.conftest import ENGINES
from tests.live import LiveServer
from tests.sdk_server import client, package_server, sdk

__all__ = ["client"]  # fixtures

MAX_STREAMS = 2
MAX_EVENTS, MAX_BYTES, MAX_SESSIONS = 8, 20_000, 10  # per session, per session, per workspace
QUOTAS = {
    "CORRAL_MAX_EVENTS_PER_SESSION": str(MAX_EVENTS),
    "CORRAL_MAX_SESSION_BYTES": str(MAX_BYTES),
    "CORRAL_MAX_SESSIONS_PER_WORKSPACE": str(MAX_SESSIONS),
}
ENV = {"CORRAL_MAX_STREAMS_PER_KEY": str(MAX_STREAMS), "CORRAL_SSE_PING_SECONDS": "0.5", **QUOTAS}


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with package_server(request, tmp_path_factory, "tenancy", ENV) as running:
        yield running


@pytest.fixture(scope="package")
def admin_http(server: LiveServer) -> Iterator[httpx.Client]:
    """Raw HTTP with the server's admin key (``CORRAL_API_KEY``), for the operator routes."""
    with httpx.Client(base_url=server.base_url, headers={"x-api-key": server.api_key}, trust_env=False) as http:
        yield http


def corral(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``corral <args>`` against the server's database (as its operator would, on its machine)."""
    return subprocess.run(
        [sys.executable, "-m", "corral", *args], env=server.server_env(), capture_output=True, text=True, timeout=60
    )


def keyed(server: LiveServer, key: str) -> anthropic.Anthropic:
    return sdk(server, key)

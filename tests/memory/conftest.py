"""Fixtures of the memory tests: one live ``corral serve`` per engine for the package (API only), the official SDK
over loopback with the admin key, with a key of its own (whose id the versions record) and with a key of a
second workspace.

Tests keep their objects apart by creating their own stores.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from tests.conftest import ENGINES
from tests.live import LiveServer
from tests.sdk_server import client, other, package_server, sdk

__all__ = ["client", "other"]  # fixtures


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with package_server(request, tmp_path_factory, "memory", {}) as running:
        yield running


@pytest.fixture(scope="package")
def key(server: LiveServer) -> str:
    """A key of the default workspace made for these tests (it has an id; the admin key has none)."""
    return server.create_key("default")


@pytest.fixture(scope="package")
def keyed(server: LiveServer, key: str) -> Iterator[anthropic.Anthropic]:
    with sdk(server, key) as made:
        yield made

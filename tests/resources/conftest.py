"""Fixtures of the session resources tests: one live ``corral serve`` per engine for the package (API only), the
official SDK over loopback with the admin key (every response body it receives recorded, for the token scans) and
with a key of a second workspace.

Tests keep their objects apart by creating their own sessions, files and memory stores.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from tests.conftest import ENGINES
from tests.live import LiveServer
from tests.sdk_server import other, package_server
from tests.vault.conftest import Bodies, sdk

__all__ = ["other"]  # fixtures


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with package_server(request, tmp_path_factory, "resources", {}) as running:
        yield running


@pytest.fixture(scope="package")
def bodies() -> Bodies:
    return Bodies()


@pytest.fixture(scope="package")
def client(server: LiveServer, bodies: Bodies) -> Iterator[anthropic.Anthropic]:
    with sdk(server, bodies) as made:
        yield made

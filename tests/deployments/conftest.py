"""One live ``corral serve`` per engine for the package (API only; webhooks may target loopback receivers)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.conftest import ENGINES
from tests.live import LiveServer
from tests.sdk_server import client, package_server

__all__ = ["client"]

ENV = {"CORRAL_WEBHOOK_ALLOW_PRIVATE": "1", "CORRAL_SCHEDULER_LEASE": "3", "CORRAL_WEBHOOK_RETRY_BASE": "0.2"}


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Generator[LiveServer]:
    with package_server(request, tmp_path_factory, "deployments", ENV) as running:
        yield running

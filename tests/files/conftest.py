"""Fixtures of the files tests: one live ``corral serve`` per engine for the package (local blobs under its data
directory, a small blob limit so the 413 paths stay cheap), the official SDK over loopback, a client of a second
workspace, and the S3-protocol server of ``tests.blobs`` for the S3 backend's run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.blobs.conftest import s3_endpoint
from tests.conftest import ENGINES
from tests.live import LiveServer
from tests.sdk_server import client, other, package_server

__all__ = ["client", "other", "s3_endpoint"]  # fixtures

MIB = 1024 * 1024
BLOB_LIMIT = 6 * MIB


@pytest.fixture(scope="package", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with package_server(request, tmp_path_factory, "files", {"CORRAL_BLOB_MAX_BYTES": str(BLOB_LIMIT)}) as running:
        yield running

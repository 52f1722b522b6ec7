"""The blob store's contract runs on both backends: a directory, and a real S3-protocol server (moto) on loopback.

``script/test`` starts one moto server for the run (``CORRAL_TEST_S3_URL``); without it, this module starts its
own for the session, so ``pytest tests/blobs`` works alone. Each test gets a fresh bucket.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import AsyncGenerator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest
from aiobotocore.session import get_session

from corral.blobs import BlobStore
from corral.blobs.local import LocalBlobStore
from corral.blobs.s3 import S3BlobStore

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

BACKENDS = ["local", "s3"]
MIB = 1024 * 1024
TEST_PART_SIZE = 5 * MIB  # S3's smallest part: the multipart path runs at test sizes
TEST_KEY = "corral-test"  # moto takes any credentials


def _watch(stream: IO[str], found: list[str], ready: threading.Event) -> None:
    """Read the server's log to its end (a full pipe would stall it); signal when it says where it listens."""
    for line in stream:
        match = re.search(r"Running on (http://\S+)", line)
        if match and not ready.is_set():
            found.append(match.group(1))
            ready.set()
    ready.set()  # the server exited: whoever waits learns it from ``found`` being empty


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The S3-protocol server's URL: script/test's, or one started here for the session."""
    given = os.environ.get("CORRAL_TEST_S3_URL")
    if given:
        yield given
        return
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert server.stdout is not None
    found: list[str] = []
    ready = threading.Event()
    watcher = threading.Thread(target=_watch, args=(server.stdout, found, ready), daemon=True)
    watcher.start()
    try:
        assert ready.wait(timeout=120) and found, "the moto server did not start"
        yield found[0]
    finally:
        server.terminate()
        server.wait(timeout=30)
        watcher.join(timeout=30)
        server.stdout.close()


@asynccontextmanager
async def s3_client(endpoint: str) -> AsyncGenerator[S3Client]:
    async with get_session().create_client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=TEST_KEY, aws_secret_access_key=TEST_KEY
    ) as made:
        client: S3Client = made  # the lite stubs type every client as Any
        yield client


async def fresh_bucket(client: S3Client) -> str:
    name = f"corral-{secrets.token_hex(6)}"
    await client.create_bucket(Bucket=name)
    return name


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncGenerator[BlobStore]:
    """A fresh, empty store of each backend (S3: a new bucket, blobs under the prefix ``corral/``)."""
    if backend == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    async with s3_client(request.getfixturevalue("s3_endpoint")) as client:
        yield S3BlobStore(client, await fresh_bucket(client), "corral/", part_size=TEST_PART_SIZE)


async def leftovers(store: BlobStore) -> list[str]:
    """Everything the store holds beside its blobs' own names and the leases of finished puts: temporary files,
    temporary objects, multipart uploads in progress."""
    if isinstance(store, LocalBlobStore):
        tmp = store.root / "tmp"
        return sorted(os.listdir(tmp)) if tmp.exists() else []
    assert isinstance(store, S3BlobStore)
    listed = await store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"{store.prefix}tmp/")
    uploads = await store.client.list_multipart_uploads(Bucket=store.bucket)
    keys = [item.get("Key", "") for item in listed.get("Contents", [])]
    return keys + [f"upload:{upload.get('Key', '')}" for upload in uploads.get("Uploads", [])]


async def stored(store: BlobStore) -> list[str]:
    """The hex names of every blob the store holds."""
    if isinstance(store, LocalBlobStore):
        root = store.root / "sha256"
        return sorted(name for shard in root.glob("*") for name in os.listdir(shard)) if root.exists() else []
    assert isinstance(store, S3BlobStore)
    listed = await store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"{store.prefix}sha256/")
    return sorted(item.get("Key", "").rsplit("/", 1)[-1] for item in listed.get("Contents", []))

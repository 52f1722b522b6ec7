"""The files API on PostgreSQL and the S3-protocol blob store (``CORRAL_BLOB_URL=s3://…``, a moto server on
loopback): an upload lands in the bucket, downloads byte-exact, and a delete leaves its blob to ``collect``."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator

import anyio
import pytest

from corral.blobs import digest_of
from tests.blobs.conftest import TEST_KEY, fresh_bucket, s3_client
from tests.conftest import database_url
from tests.files.conftest import MIB
from tests.live import LiveServer, live_server
from tests.sdk_server import sdk


async def new_bucket(endpoint: str) -> str:
    async with s3_client(endpoint) as client:
        return await fresh_bucket(client)


async def keys(endpoint: str, bucket: str) -> list[str]:
    async with s3_client(endpoint) as client:
        listed = await client.list_objects_v2(Bucket=bucket)
        return [item.get("Key", "") for item in listed.get("Contents", [])]


@pytest.fixture
def s3_server(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    tmp = tmp_path_factory.mktemp("files-s3")
    bucket = anyio.run(new_bucket, s3_endpoint)
    env = {
        "CORRAL_WORKERS": "0",
        "CORRAL_BLOB_URL": f"s3://{bucket}/corral",
        "CORRAL_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": TEST_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with live_server(anyio.run(database_url, "postgres", tmp), data_dir=tmp / "data", env=env) as running:
        yield running, bucket


def test_upload_and_download_through_s3(s3_server: tuple[LiveServer, str], s3_endpoint: str) -> None:
    server, bucket = s3_server
    data = secrets.token_bytes(6 * MIB + 7)  # past S3's 5 MiB part: the multipart upload path
    with sdk(server) as client:
        made = client.beta.files.upload(file=("data.bin", data, "application/octet-stream"))
        assert made.size_bytes == len(data)
        with client.beta.files.with_streaming_response.download(made.id) as response:
            assert hashlib.sha256(b"".join(response.iter_bytes())).digest() == hashlib.sha256(data).digest()
        stored = anyio.run(keys, s3_endpoint, bucket)
        assert any(key.endswith(digest_of(f"sha256:{hashlib.sha256(data).hexdigest()}")) for key in stored)
        client.beta.files.delete(made.id)
        assert anyio.run(keys, s3_endpoint, bucket) == stored  # an orphan now, left to collect

"""What only the S3 backend has: copies in parts, its URL, and the marker that keeps a put safe from a collection."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import pytest

from corral.blobs import blob_ref
from corral.blobs.s3 import S3BlobStore, parse_s3_url
from corral.compose.blobs import open_blob_store
from corral.config import load_settings
from corral.errors import ConfigError
from tests.blobs.conftest import MIB, TEST_KEY, TEST_PART_SIZE, fresh_bucket, leftovers, s3_client
from tests.blobs.test_contract import pieces, read, stream

pytestmark = pytest.mark.anyio


async def test_a_blob_larger_than_one_copy_is_copied_in_parts(s3_endpoint: str) -> None:
    async with s3_client(s3_endpoint) as client:
        store = S3BlobStore(
            client, await fresh_bucket(client), part_size=TEST_PART_SIZE, single_copy_limit=0, copy_part_size=5 * MIB
        )
        chunks = pieces(3, 12 * MIB + 1)
        data = b"".join(chunks)
        ref = await store.put(stream(chunks))
        assert await read(store, ref) == data
        assert await leftovers(store) == []


async def test_a_put_that_meets_a_collection_waits_for_it_and_writes_the_blob_again(s3_endpoint: str) -> None:
    async with s3_client(s3_endpoint) as client:
        store = S3BlobStore(client, await fresh_bucket(client), "p/")
        ref = await store.put(stream([b"contended"]))
        hexd = ref.removeprefix("sha256:")
        # a collection under way: its marker is written and it has just deleted the blob
        await client.put_object(Bucket=store.bucket, Key=f"p/collecting/{hexd}", Body=b"")
        await client.delete_object(Bucket=store.bucket, Key=f"p/sha256/{hexd}")
        done, asked = anyio.Event(), anyio.Event()

        def on_head(params: dict[str, object], **_: object) -> None:
            if params.get("Key") == f"p/collecting/{hexd}":
                asked.set()  # the second put has written its lease and now looks for the marker

        client.meta.events.register("provide-client-params.s3.HeadObject", on_head)  # botocore's own hook

        async def put_again() -> None:
            assert await store.put(stream([b"contended"])) == ref
            done.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(put_again)
            with anyio.fail_after(60):
                await asked.wait()
            assert not done.is_set()  # the marker holds it
            await client.delete_object(Bucket=store.bucket, Key=f"p/collecting/{hexd}")
        assert await read(store, ref) == b"contended"


@pytest.mark.parametrize(
    ("url", "parsed"), [("s3://b", ("b", "")), ("s3://b/", ("b", "")), ("s3://b/x/y/", ("b", "x/y/"))]
)
def test_the_blob_url_names_a_bucket_and_a_prefix(url: str, parsed: tuple[str, str]) -> None:
    assert parse_s3_url(url) == parsed


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "gs://b", "s3://b/p?x=1"])
def test_a_blob_url_that_is_not_one_stops_start_up(url: str, tmp_path: Path) -> None:
    async def opened() -> None:
        async with open_blob_store(load_settings({"CORRAL_BLOB_URL": url, "CORRAL_DATA_DIR": str(tmp_path)})):
            pass

    with pytest.raises(ConfigError):
        anyio.run(opened)


async def test_the_settings_choose_the_store(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = load_settings({"CORRAL_DATA_DIR": str(tmp_path), "CORRAL_BLOB_MAX_BYTES": "4"})
    async with open_blob_store(local) as store:
        ref = await store.put(stream([b"here"]))
        assert (tmp_path / "blobs" / "sha256" / ref[7:9] / ref[7:]).read_bytes() == b"here"
        assert store.max_bytes == 4
    async with s3_client(s3_endpoint) as client:
        bucket = await fresh_bucket(client)
    # botocore's standard chain reads the credentials and the region, as it would on a real deployment
    for name, value in {"AWS_ACCESS_KEY_ID": TEST_KEY, "AWS_SECRET_ACCESS_KEY": TEST_KEY}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    remote = load_settings({"CORRAL_BLOB_URL": f"s3://{bucket}/corral", "CORRAL_S3_ENDPOINT_URL": s3_endpoint})
    async with open_blob_store(remote) as store:
        assert isinstance(store, S3BlobStore) and store.prefix == "corral/"
        ref = await store.put(stream([b"there"]))
        assert ref == blob_ref(hashlib.sha256(b"there").hexdigest())
        assert await read(store, ref) == b"there"

"""Sessions' resources in sandboxes on a sandbox host: the host mounts a session's files and collects its outputs
(mount sources are paths on the host, so the host runs the session's ``SessionAttachments``); the worker's hands
use the remote provider's ``hooks``, which forward a turn's end and bring the host's notices back. On SQLite with
the host's local blobs, and on PostgreSQL with the S3-protocol store (moto) that machines would share."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import pytest

from corral.blobs import BlobStore
from corral.blobs.local import LocalBlobStore
from corral.blobs.s3 import S3BlobStore
from corral.db.engines import open_database
from corral.files import FileStore
from corral.sandbox.hands import Hands
from corral.sandbox.recipe import Environments
from corral.sandbox.workspaces import WorkspaceStore
from corral.session import SessionStore, WorkspaceRecords
from tests.blobs.conftest import TEST_KEY, fresh_bucket, s3_client, s3_endpoint
from tests.conftest import database_url
from tests.hosts.conftest import TOKEN, remote
from tests.hosts.live_host import LiveSandboxHost
from tests.mounts.conftest import WORKSPACE, Calls, Stack, file_resource

__all__ = ["s3_endpoint"]  # fixtures

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]
LIMIT = 2 * 1024 * 1024


@dataclass
class Deployment:
    db_url: str
    host: LiveSandboxHost
    #: the blob store's bucket (S3), or None: the host's local blobs
    bucket: str | None = None
    endpoint: str = ""


@pytest.fixture(scope="module", params=["sqlite+local", "postgres+s3"])
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    engine, backend = str(request.param).split("+")
    tmp = tmp_path_factory.mktemp(f"resources-{engine}")
    db_url = anyio.run(database_url, engine, tmp)
    bucket, endpoint, env = None, "", dict[str, str]()
    if backend == "s3":
        endpoint = str(request.getfixturevalue("s3_endpoint"))
        bucket = anyio.run(_bucket, endpoint)
        env = _s3_env(bucket, endpoint)
    host = LiveSandboxHost(db_url, tmp / "host", TOKEN, env=env)
    host.start()
    try:
        yield Deployment(db_url, host, bucket, endpoint)
    finally:
        host.stop()


@pytest.fixture(scope="module")
def following(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[list[Deployment]]:
    """Two hosts on one database and one S3-protocol blob store, where they keep workspace snapshots."""
    tmp = tmp_path_factory.mktemp("following")
    db_url = f"sqlite:///{tmp / 'corral.db'}"
    bucket = anyio.run(_bucket, s3_endpoint)
    hosts = [LiveSandboxHost(db_url, tmp / f"host{i}", TOKEN, env=_s3_env(bucket, s3_endpoint)) for i in range(2)]
    try:
        for host in hosts:
            host.start()
        yield [Deployment(db_url, host, bucket, s3_endpoint) for host in hosts]
    finally:
        for host in hosts:
            host.stop()


def _s3_env(bucket: str, endpoint: str) -> dict[str, str]:
    return {
        "CORRAL_BLOB_URL": f"s3://{bucket}/corral",
        "CORRAL_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": TEST_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


async def _bucket(endpoint: str) -> str:
    async with s3_client(endpoint) as client:
        return await fresh_bucket(client)


@pytest.fixture
async def stack(deployment: Deployment) -> AsyncIterator[Stack]:
    async with stack_of(deployment) as opened:
        yield opened


@asynccontextmanager
async def stack_of(deployment: Deployment) -> AsyncGenerator[Stack]:
    """The deployment's stores as the API process sees them (the same database and blobs as the host)."""
    db = open_database(deployment.db_url)
    await db.open()
    sessions = SessionStore(db)
    try:
        if deployment.bucket is None:
            blobs: BlobStore = LocalBlobStore(deployment.host.data_dir / "blobs", max_bytes=LIMIT)
            yield Stack(sessions, FileStore(db, blobs, max_bytes=LIMIT), blobs)
        else:
            async with s3_client(deployment.endpoint) as client:
                blobs = S3BlobStore(client, deployment.bucket, "corral/", max_bytes=LIMIT)
                yield Stack(sessions, FileStore(db, blobs, max_bytes=LIMIT), blobs)
    finally:
        await sessions.aclose()
        await db.close()


async def test_a_file_is_mounted_and_outputs_are_collected_through_a_host(deployment: Deployment, stack: Stack) -> None:
    notes = await stack.upload(b"remote notes\n")
    mounted = file_resource(notes.id, "/mnt/session/uploads/notes.txt")
    session_id = await stack.session(mounted)
    async with remote(deployment.db_url) as worker:
        hands = Hands(session_id, worker, Environments(), "lazy", worker.hooks)
        hands.bind(WORKSPACE, "env_test")
        calls = Calls(hands)
        try:
            assert await calls.ok("bash", command="cat /mnt/session/uploads/notes.txt") == "remote notes"
            # a file added while the sandbox runs is there at the next call (the host's before_call)
            later = await stack.upload(b"added later\n", "later.txt")
            missing = file_resource("file_nosuchfile0000000000000", "/mnt/session/uploads/missing.txt")
            added = file_resource(later.id, "/mnt/session/uploads/later.txt")
            await stack.set_resources(
                session_id, file_resource(notes.id, "/mnt/session/uploads/notes.txt"), added, missing
            )
            assert await calls.ok("bash", command="cat /mnt/session/uploads/later.txt") == "added later"
            # what the host had to tell the session came back with the call
            [notice] = hands.take_notices()
            assert "file_nosuchfile0000000000000" in notice.message and "cannot be mounted" in notice.message
            await calls.ok("write", file_path="/mnt/session/outputs/report.md", content="# Remote\n")
            await hands.turn_ended()  # forwarded to the host, which collects the outputs
            page = await stack.files.list(WORKSPACE, ids=None, scope_id=session_id, limit=100, page=None)
            [report] = page.items
            assert (report.filename, report.downloadable, report.scope_id) == ("report.md", True, session_id)
            _, opened = await stack.files.content(WORKSPACE, report.id)
            async with opened as chunks:
                assert b"".join([chunk async for chunk in chunks]) == b"# Remote\n"
        finally:
            await hands.release()


async def test_a_workspace_follows_its_session_to_another_host(following: list[Deployment]) -> None:
    async with stack_of(following[0]) as stack, remote(following[0].db_url) as worker:
        worker.follow_workspaces(WorkspaceStore(stack.blobs, WorkspaceRecords(stack.sessions.db)))
        session_id = await stack.session()
        hands = Hands(session_id, worker, Environments(), "lazy", worker.hooks)
        hands.bind(WORKSPACE, "env_test")
        calls = Calls(hands)
        try:
            await calls.ok("bash", command="echo kept > /workspace/state")
            await hands.turn_ended()  # forwarded to the host, which saves the workspace as a snapshot
            sandbox = worker.live_sandbox(session_id)
            assert sandbox is not None
            first = next(d.host for d in following if d.host.host_id == sandbox.host.host_id)
            first.kill()
            hands.workspace_expected = True  # the session's log shows it used its workspace
            # the call cannot reach the dead host, so it never ran there: it runs on the other host, restored
            assert await calls.ok("bash", command="cat /workspace/state") == "kept"
            moved = worker.live_sandbox(session_id)
            assert moved is not None and moved.host.host_id != first.host_id
        finally:
            await hands.release()

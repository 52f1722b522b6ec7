"""Workspaces that follow the session: two hosts (``LocalSandboxProvider`` s with separate data directories) share
only the database (each engine) and the blob store (each blob backend), as two machines of one deployment would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from corral.blobs import BlobStore
from corral.compose.collect import live_blobs
from corral.db import Database
from corral.files import FileStore
from corral.sandbox import ProvisionSpec
from corral.sandbox.local import LocalSandboxProvider
from corral.sandbox.workspaces import WorkspaceStore
from corral.session import NewSession, SessionStore, WorkspaceRecords
from corral.skills import SkillStore
from tests.blobs.conftest import stored
from tests.sandbox.conftest import Runner, open_provider

pytestmark = pytest.mark.anyio


@dataclass
class Deployment:
    db: Database
    sessions: SessionStore
    workspaces: WorkspaceStore
    records: WorkspaceRecords
    store: BlobStore
    a: LocalSandboxProvider
    b: LocalSandboxProvider

    async def new_session(self) -> str:
        made, _ = await self.sessions.create_session(NewSession("wrkspc_test", "agent_x", 1, "env_x", {}, []))
        return made.id

    async def turn(self, host: LocalSandboxProvider, session_id: str, command: str, *, expected: bool) -> str:
        """One turn on ``host``: provision, run ``command``, end the turn (checkpoint), release the sandbox."""
        sandbox = await host.provision(ProvisionSpec(session_id, "env_x", workspace_expected=expected))
        try:
            assert not sandbox.notices, sandbox.notices
            return await Runner(sandbox).ok("bash", command=command)
        finally:
            assert await host.checkpoint(session_id) == []
            await sandbox.release()


@pytest.fixture
async def deployment(store: BlobStore, database: Database, tmp_path: Path) -> AsyncIterator[Deployment]:
    sessions, records = SessionStore(database), WorkspaceRecords(database)
    workspaces = WorkspaceStore(store, records)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(sessions.aclose)
        a = await stack.enter_async_context(open_provider(tmp_path / "host-a", workspaces=workspaces))
        b = await stack.enter_async_context(open_provider(tmp_path / "host-b", workspaces=workspaces))
        yield Deployment(database, sessions, workspaces, records, store, a, b)


async def test_a_turn_on_another_host_sees_the_workspace(deployment: Deployment) -> None:
    session_id = await deployment.new_session()
    await deployment.turn(deployment.a, session_id, "mkdir -p src && echo one > src/notes.txt", expected=False)
    out = await deployment.turn(
        deployment.b, session_id, "cat src/notes.txt && echo two >> src/notes.txt", expected=True
    )
    assert out.strip() == "one"
    # back on the first host, whose copy is stale now: the newer snapshot wins
    out = await deployment.turn(deployment.a, session_id, "cat src/notes.txt", expected=True)
    assert out.split() == ["one", "two"]


async def test_a_stopped_sandbox_leaves_its_workspace_for_another_host(deployment: Deployment, tmp_path: Path) -> None:
    session_id = await deployment.new_session()
    async with open_provider(tmp_path / "host-c", workspaces=deployment.workspaces) as c:
        sandbox = await c.provision(ProvisionSpec(session_id, "env_x", workspace_expected=False))
        await Runner(sandbox).ok("bash", command="echo before-the-stop > stopped.txt")
        await sandbox.release()  # stopped with no turn end (idle, released): saved as it stops
    out = await deployment.turn(deployment.b, session_id, "cat stopped.txt", expected=True)
    assert out.strip() == "before-the-stop"


async def test_what_a_turn_wrote_before_its_host_died_is_lost(deployment: Deployment) -> None:
    session_id = await deployment.new_session()
    await deployment.turn(deployment.a, session_id, "echo kept > kept.txt", expected=False)
    sandbox = await deployment.a.provision(ProvisionSpec(session_id, "env_x", workspace_expected=True))
    await Runner(sandbox).ok("bash", command="echo lost > lost.txt")  # then host A is gone: no turn end, no stop
    out = await deployment.turn(deployment.b, session_id, "ls", expected=True)
    assert out.split() == ["kept.txt"]


async def test_an_unchanged_workspace_stores_nothing_new(deployment: Deployment) -> None:
    session_id = await deployment.new_session()
    await deployment.turn(deployment.a, session_id, "head -c 100000 /dev/urandom > data.bin", expected=False)
    before, latest = await stored(deployment.store), await deployment.records.latest(session_id)
    assert await deployment.a.checkpoint(session_id) == []
    assert await stored(deployment.store) == before
    assert await deployment.records.latest(session_id) == latest


async def test_a_corrupt_snapshot_gives_a_notice_and_a_fresh_workspace(deployment: Deployment) -> None:
    session_id = await deployment.new_session()
    await deployment.turn(deployment.a, session_id, "echo lost > file.txt", expected=False)
    latest = await deployment.records.latest(session_id)
    assert latest is not None
    # the session's latest snapshot names a manifest the store does not hold (lost, or never fully written).
    # Deleting the real manifest instead would race host A's save when its sandbox stops, which writes the same
    # bytes again; a record moved on makes A's copy stale, so that save records nothing, whenever it runs.
    assert await deployment.records.record(session_id, "sha256:" + "0" * 64, latest)
    sandbox = await deployment.b.provision(ProvisionSpec(session_id, "env_x", workspace_expected=True))
    try:
        assert [notice.error_type for notice in sandbox.notices] == ["unknown_error"]
        assert "snapshot" in sandbox.notices[0].message
        assert (await Runner(sandbox).ok("bash", command="ls -A | wc -l")).strip() == "0"
    finally:
        await sandbox.release()


async def test_a_workspace_never_saved_gives_a_notice_and_a_fresh_workspace(deployment: Deployment) -> None:
    session_id = await deployment.new_session()
    sandbox = await deployment.b.provision(ProvisionSpec(session_id, "env_x", workspace_expected=True))
    try:
        assert [notice.error_type for notice in sandbox.notices] == ["unknown_error"]
        assert (await Runner(sandbox).ok("bash", command="ls -A | wc -l")).strip() == "0"
    finally:
        await sandbox.release()


async def test_collection_keeps_every_blob_of_the_latest_snapshot(deployment: Deployment) -> None:
    session_id = await deployment.new_session()
    await deployment.turn(deployment.a, session_id, "head -c 100000 /dev/urandom > big.bin; echo 1 > n", expected=False)
    await deployment.turn(deployment.a, session_id, "echo 2 > n; sha256sum big.bin > sum", expected=True)
    db, store = deployment.db, deployment.store
    live = live_blobs(FileStore(db, store), SkillStore(db, store), deployment.sessions, deployment.workspaces)
    # what the corral process collects (compose.services), with no grace: only the first snapshot's own blobs go
    assert await store.collect(live, older_than=0) == 2  # its manifest and the chunk of "1"
    out = await deployment.turn(deployment.b, session_id, "cat n && sha256sum -c sum", expected=True)
    assert out.split() == ["2", "big.bin:", "OK"]

"""Each hook of the combined resources reads the session's record once, however many parts read it, and a part
used outside a hook reads afresh (so it never sees a stale record)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from corral.resources import Combined
from corral.resources.files import FileAttachments
from corral.resources.github import GithubAttachments
from corral.resources.records import SharedReads
from corral.sandbox.local import LocalSandboxProvider
from corral.session import SessionRecord, SessionStore
from tests.mounts.conftest import WORKSPACE, Stack, file_resource

pytestmark = pytest.mark.anyio


@dataclass
class Counted:
    """The real session store, with the record reads it served counted."""

    store: SessionStore
    reads: list[str] = field(default_factory=lambda: list[str]())

    async def get_session(self, session_id: str, workspace_id: str | None = None) -> SessionRecord:
        self.reads.append(session_id)
        return await self.store.get_session(session_id, workspace_id)


async def test_one_record_read_serves_every_part_of_a_hook(stack: Stack, provider: LocalSandboxProvider) -> None:
    notes = await stack.upload(b"shared\n")
    session_id = await stack.session(file_resource(notes.id))
    counted = Counted(stack.sessions)
    reads = SharedReads(counted)
    combined = Combined([FileAttachments(reads, stack.files, provider.mount_root()), GithubAttachments(reads)], reads)
    attached = await combined.attachments(WORKSPACE, session_id)
    assert attached.mounts and counted.reads == [session_id]
    await combined.before_call(WORKSPACE, session_id, "bash")
    await combined.after_call(WORKSPACE, session_id, "bash")
    assert counted.reads == [session_id] * 3
    record = await reads.get_session(session_id, WORKSPACE)  # outside a hook: a fresh read
    assert record.id == session_id and counted.reads == [session_id] * 4
    await stack.sessions.delete_session(session_id, WORKSPACE)
    gone = await combined.attachments(WORKSPACE, session_id)  # one read, found gone: no file to mount
    assert counted.reads == [session_id] * 5
    assert [list(os.scandir(mount.source)) for mount in gone.mounts] == [[]]
    await combined.forget(session_id)

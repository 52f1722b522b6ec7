"""File resources in real sandboxes, through the session's real ``Hands``: read-only at the default and at a
custom mount path, again in the sandbox that replaces a dead one, live in the uploads directory when a resource
is added or removed mid-session, and still there after the file is deleted from the Files API."""

from __future__ import annotations

import os
import secrets

import pytest

from corral.resources.files import FileAttachments
from corral.sandbox.local import LocalSandboxProvider
from tests.mounts.conftest import WORKSPACE, Stack, file_resource, hands_of

pytestmark = pytest.mark.anyio


def part(stack: Stack, provider: LocalSandboxProvider) -> FileAttachments:
    return FileAttachments(stack.sessions, stack.files, provider.mount_root())


async def test_files_are_mounted_read_only_at_the_default_and_a_custom_path(
    stack: Stack, provider: LocalSandboxProvider
) -> None:
    notes, table = await stack.upload(b"the sky is blue\n"), await stack.upload(b"a,b\n1,2\n", "table.csv")
    session_id = await stack.session(file_resource(notes.id), file_resource(table.id, "/data/input.csv"))
    files = part(stack, provider)
    calls = hands_of(session_id, provider, files)
    try:
        assert await calls.ok("read", file_path=f"/mnt/session/uploads/{notes.id}") == "the sky is blue\n"
        assert await calls.ok("bash", command="cat /data/input.csv") == "a,b\n1,2"
        refused = await calls.fails("bash", command=f"echo x >> /mnt/session/uploads/{notes.id}")
        assert "Read-only file system" in refused or "Permission denied" in refused
        assert "Read-only file system" in await calls.fails("bash", command="rm /data/input.csv")
        refused = await calls.fails("write", file_path="/data/input.csv", content="changed")
        assert refused == "write: /data/input.csv: outside the workspace"
        # the sandbox dies; the one that replaces it has the files again
        assert (await calls("bash", command="kill -9 $PPID; sleep 5")).is_error
        assert await calls.ok("bash", command=f"cat /mnt/session/uploads/{notes.id} /data/input.csv") == (
            "the sky is blue\na,b\n1,2"
        )
    finally:
        await calls.hands.release()
        await files.forget(session_id)
    assert not files.home(session_id).exists()
    assert os.listdir(files.cache.directory) == ["tmp"]  # nothing holds the bytes any more


async def test_a_file_added_or_removed_mid_session_comes_and_goes_in_the_uploads_directory(
    stack: Stack, provider: LocalSandboxProvider
) -> None:
    first = await stack.upload(b"first\n")
    session_id = await stack.session()
    files = part(stack, provider)
    calls = hands_of(session_id, provider, files)
    try:
        assert await calls.ok("bash", command="ls -A /mnt/session/uploads | wc -l") == "0"
        added = file_resource(first.id)
        await stack.set_resources(session_id, added)
        assert await calls.ok("bash", command=f"cat /mnt/session/uploads/{first.id}") == "first"
        await stack.set_resources(session_id, added, file_resource(first.id, "/mnt/session/uploads/docs/same.txt"))
        assert await calls.ok("bash", command="cat /mnt/session/uploads/docs/same.txt") == "first"
        await stack.set_resources(session_id)
        assert await calls.ok("bash", command="ls -A /mnt/session/uploads | wc -l") == "0"
    finally:
        await calls.hands.release()
        await files.forget(session_id)


async def test_a_file_deleted_from_the_files_api_stays_mounted_for_the_session_that_has_it(
    stack: Stack, provider: LocalSandboxProvider
) -> None:
    kept, gone = await stack.upload(b"kept\n"), await stack.upload(secrets.token_bytes(64))
    session_id = await stack.session(file_resource(kept.id, "/opt/kept.txt"), file_resource(gone.id))
    await stack.files.delete(WORKSPACE, gone.id)  # before the session ever mounted it
    files = part(stack, provider)
    calls = hands_of(session_id, provider, files)
    try:
        assert await calls.ok("bash", command="cat /opt/kept.txt") == "kept"
        notices = calls.hands.take_notices()  # what the harness reports on the session
        assert [n.error_type for n in notices] == ["unknown_error"]
        assert gone.id in notices[0].message and "cannot be mounted" in notices[0].message
        await stack.files.delete(WORKSPACE, kept.id)
        await stack.blobs.delete(kept.blob_ref)  # collected, even: the session holds its own copy
        await calls.hands.release()
        assert await calls.ok("bash", command="cat /opt/kept.txt") == "kept"
    finally:
        await calls.hands.release()
        await files.forget(session_id)

"""A session's ``/mnt/session/outputs`` in real sandboxes, collected into the Files API when its turn ends: new
and changed files become session-scoped downloadable files, unchanged ones are not collected twice, what a dead
sandbox left is still there, and what a hostile sandbox leaves (symlinks, fifos, files past the limit, swapped
directories) is skipped or refused without harm."""

from __future__ import annotations

import hashlib

import anyio
import pytest

from corral.files import FileRecord
from corral.resources import untrusted
from corral.resources.outputs import OutputAttachments
from corral.sandbox.local import LocalSandboxProvider
from tests.mounts.conftest import LIMIT, WORKSPACE, Calls, Stack, hands_of

pytestmark = pytest.mark.anyio


async def outputs_of(stack: Stack, session_id: str) -> list[FileRecord]:
    page = await stack.files.list(WORKSPACE, ids=None, scope_id=session_id, limit=100, page=None)
    return list(page.items)


async def content(stack: Stack, record: FileRecord) -> bytes:
    _, opened = await stack.files.content(WORKSPACE, record.id)
    async with opened as chunks:
        return b"".join([chunk async for chunk in chunks])


async def turn_ends(calls: Calls) -> None:
    await calls.hands.turn_ended()


async def test_outputs_become_session_scoped_downloadable_files(stack: Stack, provider: LocalSandboxProvider) -> None:
    session_id = await stack.session()
    outputs = OutputAttachments(stack.files, provider.mount_root())
    calls = hands_of(session_id, provider, outputs)
    try:
        await calls.ok("write", file_path="/mnt/session/outputs/report.md", content="# Report\n")
        await calls.ok(
            "bash", command="mkdir -p /mnt/session/outputs/charts && echo 1,2 > /mnt/session/outputs/charts/q1.csv"
        )
        await turn_ends(calls)
        found = {record.filename: record for record in await outputs_of(stack, session_id)}
        assert sorted(found) == ["charts/q1.csv", "report.md"]
        report = found["report.md"]
        assert (report.downloadable, report.scope_id, report.mime_type) == (True, session_id, "text/markdown")
        assert report.wire()["scope"] == {"type": "session", "id": session_id}
        assert await content(stack, report) == b"# Report\n"
        assert await content(stack, found["charts/q1.csv"]) == b"1,2\n"
        await turn_ends(calls)  # nothing changed: nothing new
        assert len(await outputs_of(stack, session_id)) == 2
        await calls.ok("bash", command="touch /mnt/session/outputs/report.md")  # same bytes: not collected again
        await calls.ok("edit", file_path="/mnt/session/outputs/charts/q1.csv", old_string="1,2", new_string="3,4")
        await turn_ends(calls)
        listed = await outputs_of(stack, session_id)
        assert [r.filename for r in listed].count("charts/q1.csv") == 2 and len(listed) == 3
        assert await content(stack, listed[0]) == b"3,4\n"  # newest first: the changed file
        # the sandbox dies; the outputs directory is the session's, the next sandbox has it
        assert (await calls("bash", command="echo late > /mnt/session/outputs/late.txt; kill -9 $PPID")).is_error
        assert await calls.ok("bash", command="cat /mnt/session/outputs/late.txt") == "late"
        await turn_ends(calls)
        assert "late.txt" in [r.filename for r in await outputs_of(stack, session_id)]
    finally:
        await calls.hands.release()
        await outputs.forget(session_id)
    assert not outputs.home(session_id).exists()


async def test_collection_that_lost_its_record_does_not_collect_the_same_bytes_twice(
    stack: Stack, provider: LocalSandboxProvider
) -> None:
    session_id = await stack.session()
    outputs = OutputAttachments(stack.files, provider.mount_root())
    calls = hands_of(session_id, provider, outputs)
    try:
        await calls.ok("write", file_path="/mnt/session/outputs/a.txt", content="a")
        await turn_ends(calls)
        (outputs.home(session_id) / "collected.json").unlink()  # e.g. lost with a crash before it was saved
        await turn_ends(calls)
        assert [r.filename for r in await outputs_of(stack, session_id)] == ["a.txt"]
    finally:
        await calls.hands.release()
        await outputs.forget(session_id)


async def test_hostile_outputs_are_skipped_or_refused_without_harm(
    stack: Stack, provider: LocalSandboxProvider
) -> None:
    session_id = await stack.session()
    outputs = OutputAttachments(stack.files, provider.mount_root())
    calls = hands_of(session_id, provider, outputs)
    out = "/mnt/session/outputs"
    try:
        await calls.ok(
            "bash",
            command=(
                f"ln -s /etc/passwd {out}/passwd && ln -s / {out}/root && mkfifo {out}/pipe"
                f" && mkdir {out}/real && echo inside > {out}/real/ok.txt && ln -s /etc {out}/real/etc"
                f" && head -c {LIMIT + 1} /dev/zero > {out}/huge.bin && echo fine > {out}/fine.txt"
                f" && printf x > {out}/$(printf 'bad\\xff')"
            ),
        )
        await turn_ends(calls)
        found = {record.filename: record for record in await outputs_of(stack, session_id)}
        assert sorted(found) == ["fine.txt", "real/ok.txt"]
        messages = [notice.message for notice in calls.hands.take_notices()]
        assert any("huge.bin" in m and "limit" in m for m in messages), messages
        assert any("not UTF-8" in m for m in messages), messages
        passwd = hashlib.sha256(await anyio.Path("/etc/passwd").read_bytes()).hexdigest()
        blobs_held = {record.blob_ref for record in found.values()}
        assert f"sha256:{passwd}" not in blobs_held
    finally:
        await calls.hands.release()
        await outputs.forget(session_id)


async def test_a_file_swapped_for_a_symlink_between_scan_and_read_is_not_followed(
    stack: Stack, provider: LocalSandboxProvider
) -> None:
    session_id = await stack.session()
    outputs = OutputAttachments(stack.files, provider.mount_root())
    await outputs.attachments(WORKSPACE, session_id)
    top = outputs.home(session_id) / "files"
    (top / "dir").mkdir()
    (top / "dir" / "x.txt").write_text("x")
    listed = untrusted.scan(str(top), 10)
    assert [found.relative for found in listed.files] == ["dir/x.txt"]
    (top / "dir" / "x.txt").unlink()
    (top / "dir").rmdir()
    (top / "dir").symlink_to("/etc")  # what a sandbox could do between the two steps
    with pytest.raises(OSError):
        untrusted.open_beneath(str(top), "dir/x.txt")
    (top / "dir").unlink()
    (top / "dir").mkdir()
    (top / "dir" / "x.txt").symlink_to("/etc/passwd")
    with pytest.raises(OSError):
        untrusted.open_beneath(str(top), "dir/x.txt")
    await outputs.forget(session_id)

"""A deleted session's state on the sandbox host goes: the workers' sweep finds the sessions the provider keeps a
workspace for that no longer exist, and drops their workspace, journal and outputs; live sessions keep theirs."""

from __future__ import annotations

import pytest

from corral.compose.upkeep import sweep_deleted
from corral.resources.outputs import OutputAttachments
from corral.sandbox.local import LocalSandboxProvider
from tests.mounts.conftest import WORKSPACE, Stack, hands_of

pytestmark = pytest.mark.anyio


async def test_the_sweep_forgets_deleted_sessions_and_keeps_live_ones(
    stack: Stack, provider: LocalSandboxProvider
) -> None:
    outputs = OutputAttachments(stack.files, provider.mount_root())
    doomed, kept = await stack.session(), await stack.session()
    for session_id in (doomed, kept):
        calls = hands_of(session_id, provider, outputs)
        await calls.ok("write", file_path="/mnt/session/outputs/note.md", content=session_id)
        await calls.ok("write", file_path="work.txt", content="mine")
        await calls.hands.release()
    assert {doomed, kept} <= set(await provider.kept_sessions())
    outputs_of = {sid: provider.mount_root() / "outputs" / sid for sid in (doomed, kept)}
    assert all(path.exists() for path in outputs_of.values())
    await stack.sessions.delete_session(doomed, WORKSPACE)
    gone = await sweep_deleted(stack.sessions, provider, outputs)  # (and other tests' sessions on this provider)
    assert doomed in gone and kept not in gone
    assert doomed not in await provider.kept_sessions() and kept in await provider.kept_sessions()
    assert not provider.workspace_path(doomed).exists() and not outputs_of[doomed].exists()
    assert (provider.workspace_path(kept) / "work.txt").read_text() == "mine" and outputs_of[kept].exists()
    assert doomed not in await sweep_deleted(stack.sessions, provider, outputs)

"""A session's workspace is never silently replaced: when a turn lands on a worker whose sandboxes live in
another data directory, the first sandbox call says so (an error result naming the cause) instead of running
against a fresh, empty workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from corral.config import Settings
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from corral.session import SessionStore
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.harness.helpers import agent, create_session, running, send, settings_for, user_message, wait_idle

pytestmark = pytest.mark.anyio

TOOLSET = {"type": "agent_toolset_20260401"}
SCRIPT = {
    "replies": [
        reply(tool_use("write", {"file_path": "notes.txt", "content": "turn one"})),
        reply(text("Written.")),
        reply(tool_use("bash", {"command": "cat notes.txt"})),
        reply(text("Read.")),
    ]
}


@pytest.fixture
async def two_machines(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[LocalSandboxProvider, ...]]:
    options = LocalOptions(disk_image_bytes=8 * 1024**3)
    first = Settings(data_dir=tmp_path_factory.mktemp("worker-a"), egress_enabled=False)
    second = Settings(data_dir=tmp_path_factory.mktemp("worker-b"), egress_enabled=False)
    async with LocalSandboxProvider(first, options=options) as a, LocalSandboxProvider(second, options=options) as b:
        yield a, b


async def test_a_turn_on_a_worker_without_the_workspace_says_so(
    store: SessionStore, two_machines: tuple[LocalSandboxProvider, ...]
) -> None:
    worker_a, worker_b = two_machines
    async with ScriptedModelServer(SCRIPT) as server:
        session_id = await create_session(store, agent(tools=[TOOLSET]))
        async with running(store, settings_for(server.url), sandbox=worker_a):
            await send(store, session_id, user_message("Write a note"))
            first = await wait_idle(store, session_id)
        async with running(store, settings_for(server.url), sandbox=worker_b):
            await send(store, session_id, user_message("Read it back"))
            second = await wait_idle(store, session_id, count=2)
    written = [e.data() for e in first if e.type == "agent.tool_result"]
    assert [r["is_error"] for r in written] == [False]
    result = [e.data() for e in second if e.type == "agent.tool_result"][-1]
    assert result["is_error"] is True
    assert "this session's workspace is not on this machine" in result["content"][0]["text"]
    assert not worker_b.workspace_path(session_id).exists()

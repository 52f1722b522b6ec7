"""A sandbox that cannot be provisioned (the environment's packages cannot be installed) is reported on the
session as a ``session.error`` as well as in the call's error result; the session goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from corral._types import JSONObject
from corral.config import Settings
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from corral.session import SessionStore
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.harness.helpers import agent, create_session, running, send, settings_for, user_message, wait_idle

pytestmark = pytest.mark.anyio

TOOLSET = {"type": "agent_toolset_20260401"}
CONFIG: JSONObject = {"type": "cloud", "networking": {"type": "unrestricted"}, "packages": {"cargo": ["ripgrep"]}}


@pytest.fixture
async def provider(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSandboxProvider]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("packages"), egress_enabled=False)
    async with LocalSandboxProvider(settings, options=LocalOptions(disk_image_bytes=8 * 1024**3)) as started:
        yield started


async def environments(workspace_id: str, environment_id: str) -> JSONObject | None:
    return CONFIG


async def test_a_failed_install_is_a_session_error_and_a_tool_error(
    store: SessionStore, provider: LocalSandboxProvider
) -> None:
    script = {"replies": [reply(tool_use("bash", {"command": "rg --version"})), reply(text("It failed."))]}
    async with ScriptedModelServer(script) as server:
        async with running(store, settings_for(server.url), sandbox=provider, environments=environments):
            session_id = await create_session(store, agent(tools=[TOOLSET]))
            await send(store, session_id, user_message("Use ripgrep"))
            events = await wait_idle(store, session_id)
    errors = [e.data()["error"] for e in events if e.type == "session.error"]
    assert len(errors) == 1 and errors[0]["type"] == "unknown_error"
    assert errors[0]["retry_status"] == {"type": "retrying"}
    assert "cargo packages are not supported" in errors[0]["message"]
    result = next(e.data() for e in events if e.type == "agent.tool_result")
    assert result["is_error"] and "could not be provisioned" in result["content"][0]["text"]
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}  # the session went on

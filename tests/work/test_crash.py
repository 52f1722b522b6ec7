"""kill -9 of ``corral serve`` while a self-hosted worker runs a session's tool: once the server is back, the
worker's result lands, the turn finishes once, and the tool ran once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from tests.live import LiveServer
from tests.sdk_server import async_sdk
from tests.work.conftest import CRASH_SYSTEM, Setup

pytestmark = pytest.mark.timeout(300)


async def _crash_mid_tool(setup: Setup, workdir: Path) -> tuple[str, list[dict[str, Any]]]:
    live: LiveServer = setup.live
    os.mkfifo(workdir / "started.fifo")
    os.mkfifo(workdir / "gate.fifo")
    async with async_sdk(live) as client:
        agent = await client.beta.agents.create(
            name="Crash", model="claude-sonnet-4-6", system=CRASH_SYSTEM, tools=[{"type": "agent_toolset_20260401"}]
        )
        session = await client.beta.sessions.create(agent=agent.id, environment_id=setup.environment_id)
        worker = client.beta.environments.work.worker(
            environment_id=setup.environment_id,
            environment_key=setup.environment_key,
            workdir=workdir,
            max_idle=0.5,
            memory_sync_interval=None,
        )
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(worker.run)
            await client.beta.sessions.events.send(
                session.id,
                events=[{"type": "user.message", "content": [{"type": "text", "text": "Run the gated step."}]}],
            )
            await anyio.to_thread.run_sync((workdir / "started.fifo").read_text)  # the tool is running now
            await anyio.to_thread.run_sync(live.kill)
            await anyio.to_thread.run_sync(live.start)
            async with await client.beta.sessions.events.stream(session.id) as stream:
                await anyio.to_thread.run_sync((workdir / "gate.fifo").write_text, "go\n")  # let the tool finish
                async for event in stream:
                    if event.type == "session.status_idle" and event.stop_reason.type == "end_turn":
                        break
            tasks.cancel_scope.cancel()
        events = [e.model_dump() async for e in client.beta.sessions.events.list(session.id, limit=100)]
        return session.id, events


def test_a_crash_mid_tool_finishes_the_turn_once(setup: Setup, tmp_path: Path) -> None:
    _, events = anyio.run(_crash_mid_tool, setup, tmp_path)
    assert (tmp_path / "runs.txt").read_text() == "run\n"  # the tool ran once
    [call] = [e for e in events if e["type"] == "agent.tool_use"]
    [result] = [e for e in events if e["type"] == "user.tool_result"]
    assert result["tool_use_id"] == call["id"] and "got go" in str(result["content"])
    finished = [e for e in events if e["type"] == "agent.message"]
    assert [m["content"][0]["text"] for m in finished] == ["Finished after the crash."]
    ends = [e for e in events if e["type"] == "session.status_idle" and e["stop_reason"]["type"] == "end_turn"]
    assert len(ends) == 1

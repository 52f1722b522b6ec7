"""The SDK's own worker helper (``client.beta.environments.work.worker``) serves a self-hosted session: the agent
loop stays in corral, the tools run in the worker's directory, and their results come back into the session's log
once each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.sdk_server import async_sdk
from tests.work.conftest import NOTE, Setup

pytestmark = pytest.mark.timeout(120)


async def _serve_one_turn(setup: Setup, workdir: Path) -> tuple[str, list[dict[str, Any]]]:
    async with async_sdk(setup.live) as client:
        session = await client.beta.sessions.create(agent=setup.agent_id, environment_id=setup.environment_id)
        worker = client.beta.environments.work.worker(
            environment_id=setup.environment_id,
            environment_key=setup.environment_key,
            workdir=workdir,
            max_idle=0.5,
            memory_sync_interval=None,
        )
        seen: list[dict[str, Any]] = []
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(worker.run)
            async with await client.beta.sessions.events.stream(session.id) as stream:
                await client.beta.sessions.events.send(
                    session.id,
                    events=[{"type": "user.message", "content": [{"type": "text", "text": "Make a note, show it."}]}],
                )
                async for event in stream:
                    seen.append(event.model_dump())
                    if event.type == "session.status_idle" and event.stop_reason.type == "end_turn":
                        break
            tasks.cancel_scope.cancel()
        return session.id, seen


def test_the_sdk_worker_runs_a_self_hosted_sessions_tools(setup: Setup, tmp_path: Path) -> None:
    session_id, events = anyio.run(_serve_one_turn, setup, tmp_path)
    edited = NOTE.replace("worker", "self-hosted worker")
    assert (tmp_path / "note.txt").read_text() == edited  # the tools ran in the worker's own directory
    calls = [e for e in events if e["type"] == "agent.tool_use"]
    assert [c["name"] for c in calls] == ["write", "edit", "read", "bash"]
    assert all(c["executor"] == "client" for c in calls)
    results = [e for e in events if e["type"] == "user.tool_result"]
    assert sorted(r["tool_use_id"] for r in results) == sorted(c["id"] for c in calls)  # once each
    bash = next(r for r in results if r["tool_use_id"] == calls[-1]["id"])
    assert str(tmp_path) in str(bash["content"]) and edited.strip() in str(bash["content"])
    assert not any(e["type"] == "agent.tool_result" for e in events)  # nothing ran in a corral sandbox
    assert events[-1]["type"] == "session.status_idle"
    assert session_id.startswith("sesn_")

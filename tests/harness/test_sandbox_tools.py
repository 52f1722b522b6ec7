"""Built-in tools through the hands: the real local (bubblewrap) sandbox, provisioned lazily, speculatively or
eagerly; a dead sandbox is a tool error and the next call gets a fresh one; interrupts stop a running tool."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from corral._types import JSONObject
from corral.config import Settings
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from corral.sandbox.recipe import EnvironmentSource
from corral.session import NewEvent, SessionStore
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.harness.helpers import (
    agent,
    create_session,
    eventually,
    has,
    running,
    send,
    settings_for,
    transcript,
    types,
    user_message,
    wait_blocked,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.anyio

TOOLSET = {"type": "agent_toolset_20260401"}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def provider(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSandboxProvider]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("hands"), egress_enabled=False)
    async with LocalSandboxProvider(settings, options=LocalOptions(disk_image_bytes=8 * 1024**3)) as started:
        yield started


def environments(config: JSONObject) -> EnvironmentSource:
    async def source(workspace_id: str, environment_id: str) -> JSONObject | None:
        return config

    return source


def workspace(provider: LocalSandboxProvider, session_id: str) -> Path:
    return provider.workspace_path(session_id)


@pytest.mark.parametrize("model", ["claude-test", "openai:gpt-test"])
async def test_bash_runs_in_the_sandbox(store: SessionStore, provider: LocalSandboxProvider, model: str) -> None:
    command = "echo hello > greeting.txt && cat greeting.txt"
    script = {"replies": [reply(text("Writing."), tool_use("bash", {"command": command})), reply(text("Done."))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url), sandbox=provider):
        session_id = await create_session(store, agent(model, tools=[TOOLSET]))
        await send(store, session_id, user_message("Greet into a file"))
        events = await wait_idle(store, session_id)
    assert types(events) == [
        "user.message",
        "session.status_running",
        "span.model_request_start",
        "agent.message",
        "agent.tool_use",
        "span.model_request_end",
        "agent.tool_result",
        "span.model_request_start",
        "agent.message",
        "span.model_request_end",
        "session.status_idle",
    ]
    call, result = events[4].data(), events[6].data()
    assert call["evaluated_permission"] == "allow" and call["evaluation"] == {"type": "always_allow"}
    assert result["tool_use_id"] == events[4].id and result["is_error"] is False
    assert "hello" in json.dumps(result["content"])
    assert (workspace(provider, session_id) / "greeting.txt").read_text() == "hello\n"
    names = [t.get("name") or t["function"]["name"] for t in server.requests[0].body["tools"]]
    assert names == ["bash", "read", "write", "edit", "glob", "grep"]


async def test_confirmed_tool_runs(store: SessionStore, provider: LocalSandboxProvider) -> None:
    ask = {"type": "agent_toolset_20260401", "default_config": {"permission_policy": {"type": "always_ask"}}}
    script = {"replies": [reply(tool_use("write", {"file_path": "ok.txt", "content": "yes"})), reply(text("Written."))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url), sandbox=provider):
        session_id = await create_session(store, agent(tools=[ask]))
        await send(store, session_id, user_message("Write ok.txt"))
        blocked = await wait_blocked(store, session_id)
        assert not workspace(provider, session_id).exists()  # lazy: nothing provisioned while waiting
        call = next(e for e in blocked if e.type == "agent.tool_use")
        await send(store, session_id, NewEvent("user.tool_confirmation", {"tool_use_id": call.id, "result": "allow"}))
        events = await wait_idle(store, session_id)
    assert (workspace(provider, session_id) / "ok.txt").read_text() == "yes"
    result = next(e for e in events if e.type == "agent.tool_result").data()
    assert result["is_error"] is False


@pytest.mark.parametrize(("mode", "provisioned"), [("lazy", False), ("speculative", False), ("eager", True)])
async def test_provisioning_modes(
    store: SessionStore, provider: LocalSandboxProvider, mode: str, provisioned: bool
) -> None:
    script = {"replies": [reply(text("No tools needed."))]}
    config = {"type": "cloud", "networking": {"type": "unrestricted"}, "corral": {"provisioning": mode}}
    async with ScriptedModelServer(script) as server:
        async with running(store, settings_for(server.url), sandbox=provider, environments=environments(config)):
            session_id = await create_session(store, agent(tools=[TOOLSET]))
            await send(store, session_id, user_message("Just talk"))
            await wait_idle(store, session_id)
            if provisioned:  # eager provisioning runs beside the turn
                await eventually(lambda: workspace(provider, session_id).exists())
    assert workspace(provider, session_id).exists() is provisioned


async def test_speculative_provisioning_starts_during_the_stream(
    store: SessionStore, provider: LocalSandboxProvider
) -> None:
    slow = reply(text(" ".join(["thinking"] * 20)), tool_use("bash", {"command": "pwd"}))
    script = {"replies": [slow, reply(text("Ok."))], "latency": {"tokens_per_second": 10}}
    config = {"type": "cloud", "corral": {"provisioning": "speculative"}}
    async with ScriptedModelServer(script) as server:
        async with running(store, settings_for(server.url), sandbox=provider, environments=environments(config)):
            session_id = await create_session(store, agent(tools=[TOOLSET]))
            await send(store, session_id, user_message("Where am I?"))
            events = await wait_idle(store, session_id)
    assert not next(e for e in events if e.type == "agent.tool_result").data()["is_error"]


async def test_a_dead_sandbox_is_a_tool_error_and_the_next_call_gets_a_new_one(
    store: SessionStore, provider: LocalSandboxProvider
) -> None:
    script = {
        "replies": [
            reply(tool_use("bash", {"command": "echo keep > kept.txt; kill -9 $PPID; sleep 5"})),
            reply(tool_use("bash", {"command": "cat kept.txt"})),
            reply(text("Recovered.")),
        ]
    }
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url), sandbox=provider):
        session_id = await create_session(store, agent(tools=[TOOLSET]))
        await send(store, session_id, user_message("Crash and recover"))
        events = await wait_idle(store, session_id)
    results = [e.data() for e in events if e.type == "agent.tool_result"]
    assert [r["is_error"] for r in results] == [True, False]
    assert "keep" in json.dumps(results[1]["content"])
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}


async def test_interrupt_stops_a_running_tool(store: SessionStore, provider: LocalSandboxProvider) -> None:
    script = {"replies": [reply(tool_use("bash", {"command": "touch running; sleep 60; echo finished > late.txt"}))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url), sandbox=provider):
        session_id = await create_session(store, agent(tools=[TOOLSET]))
        await send(store, session_id, user_message("Take your time"))
        await wait_for(store, session_id, has("agent.tool_use"))
        await eventually((workspace(provider, session_id) / "running").exists)  # the command is running now
        await send(store, session_id, NewEvent("user.interrupt", {}, queued=True))
        events = await wait_idle(store, session_id, wait=15)
    assert transcript(events)[-2:] == [
        (
            "agent.tool_result",
            (
                [
                    {
                        "type": "text",
                        "text": "bash: interrupted: the user interrupted the turn before this call returned",
                    }
                ],
                True,
            ),
        ),
        ("session.status_idle", "end_turn"),
    ]
    assert not (workspace(provider, session_id) / "late.txt").exists()

"""Custom tools (requires_action round trips), permission policies and tools that are not enabled."""

from __future__ import annotations

import json

import pytest

from corral.session import NewEvent, SessionStore
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.harness.helpers import (
    agent,
    create_session,
    custom_tool,
    running,
    send,
    settings_for,
    transcript,
    types,
    user_message,
    wait_blocked,
    wait_idle,
)

pytestmark = pytest.mark.anyio

MODELS = ["claude-test", "openai:gpt-test"]


def custom_result(tool_use_id: str, value: str) -> NewEvent:
    return NewEvent(
        "user.custom_tool_result",
        {"custom_tool_use_id": tool_use_id, "content": [{"type": "text", "text": value}]},
    )


@pytest.mark.parametrize("model", MODELS)
async def test_custom_tool_round_trip(store: SessionStore, model: str) -> None:
    script = {"replies": [reply(tool_use("get_weather", {"city": "Paris"})), reply(text("It is 18C in Paris."))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent(model, tools=[custom_tool("get_weather")]))
        await send(store, session_id, user_message("Weather in Paris?"))
        blocked = await wait_blocked(store, session_id)
        assert types(blocked) == [
            "user.message",
            "session.status_running",
            "span.model_request_start",
            "agent.custom_tool_use",
            "span.model_request_end",
            "session.status_idle",
        ]
        call = blocked[3]
        assert call.data() == {"name": "get_weather", "input": {"city": "Paris"}}
        assert blocked[-1].data()["stop_reason"] == {"type": "requires_action", "event_ids": [call.id]}
        assert (await store.get_session(session_id)).pending_actions == [call.id]
        await send(store, session_id, custom_result(call.id, "18C"))
        events = await wait_idle(store, session_id)
    assert types(events[len(blocked) :]) == [
        "user.custom_tool_result",
        "session.status_running",
        "span.model_request_start",
        "agent.message",
        "span.model_request_end",
        "session.status_idle",
    ]
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}
    second = server.requests[1].body
    assert call.id in str(second) and "18C" in str(second)
    tools = second["tools"]
    assert [t.get("name") or t["function"]["name"] for t in tools] == ["get_weather"]


async def test_partial_resolution_reannounces_the_rest(store: SessionStore) -> None:
    first = reply(tool_use("lookup", {"q": "a"}), tool_use("lookup", {"q": "b"}))
    script = {"replies": [first, reply(text("Both done."))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent(tools=[custom_tool("lookup")]))
        await send(store, session_id, user_message("Look both up"))
        blocked = await wait_blocked(store, session_id)
        calls = [e.id for e in blocked if e.type == "agent.custom_tool_use"]
        assert blocked[-1].data()["stop_reason"]["event_ids"] == calls
        await send(store, session_id, custom_result(calls[0], "A"))
        again = await wait_blocked(store, session_id, 2)
        assert again[-1].data()["stop_reason"] == {"type": "requires_action", "event_ids": [calls[1]]}
        assert "session.status_running" not in types(again[len(blocked) :])
        await send(store, session_id, custom_result(calls[1], "B"))
        events = await wait_idle(store, session_id)
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}
    assert len(server.requests) == 2
    answered = json.dumps(server.requests[1].body)
    assert answered.index('"A"') < answered.index('"B"')


def toolset(policy: str, *, enabled: bool = True) -> dict[str, object]:
    return {
        "type": "agent_toolset_20260401",
        "default_config": {"enabled": enabled, "permission_policy": {"type": policy}},
    }


@pytest.mark.parametrize("model", MODELS)
async def test_always_ask_denied(store: SessionStore, model: str) -> None:
    script = {"replies": [reply(tool_use("bash", {"command": "rm -rf /tmp/x"})), reply(text("Understood, I won't."))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent(model, tools=[toolset("always_ask")]))
        await send(store, session_id, user_message("Clean up"))
        blocked = await wait_blocked(store, session_id)
        call = next(e for e in blocked if e.type == "agent.tool_use")
        assert call.data()["evaluated_permission"] == "ask"
        assert call.data()["evaluation"] == {"type": "always_ask"}
        assert blocked[-1].data()["stop_reason"] == {"type": "requires_action", "event_ids": [call.id]}
        deny = {"tool_use_id": call.id, "result": "deny", "deny_message": "not on my machine"}
        await send(store, session_id, NewEvent("user.tool_confirmation", deny))
        events = await wait_idle(store, session_id)
    tail = events[len(blocked) :]
    assert types(tail) == [
        "user.tool_confirmation",
        "session.status_running",
        "agent.tool_result",
        "span.model_request_start",
        "agent.message",
        "span.model_request_end",
        "session.status_idle",
    ]
    result = tail[2].data()
    assert result["tool_use_id"] == call.id and result["is_error"] is True
    assert "not on my machine" in result["content"][0]["text"]
    assert "not on my machine" in str(server.requests[1].body)
    assert tail[0].processed_at is not None


async def test_tool_not_enabled_is_denied(store: SessionStore) -> None:
    script = {"replies": [reply(tool_use("bash", {"command": "ls"})), reply(text("I cannot run commands."))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent(tools=[toolset("always_allow", enabled=False)]))
        await send(store, session_id, user_message("List files"))
        events = await wait_idle(store, session_id)
    assert transcript(events)[1:4] == [
        ("agent.tool_use", ("bash", {"command": "ls"})),
        ("agent.tool_result", ([{"type": "text", "text": "bash: this tool is not enabled for this agent"}], True)),
        ("agent.message", [{"type": "text", "text": "I cannot run commands."}]),
    ]
    call = next(e for e in events if e.type == "agent.tool_use")
    assert call.data()["evaluated_permission"] == "deny" and "evaluation" not in call.data()
    assert server.requests[0].body.get("tools") is None


async def test_interrupt_while_blocked_ends_the_turn(store: SessionStore) -> None:
    script = {"replies": [reply(tool_use("lookup", {"q": "a"})), reply(text("Next."))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent(tools=[custom_tool("lookup")]))
        await send(store, session_id, user_message("Look it up"))
        await wait_blocked(store, session_id)
        await send(store, session_id, NewEvent("user.interrupt", {}, queued=True))
        events = await wait_idle(store, session_id)
        assert (await store.get_session(session_id)).pending_actions == []
        await send(store, session_id, user_message("Never mind, go on"))
        events = await wait_idle(store, session_id, 2)
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}
    messages = server.requests[1].body["messages"]
    assert messages[2]["content"][0]["type"] == "tool_result"
    assert messages[2]["content"][0]["is_error"] is True


async def test_self_hosted_environments_run_built_in_tools_in_the_client(store: SessionStore) -> None:
    script = {"replies": [reply(tool_use("bash", {"command": "uname"})), reply(text("It is Linux."))]}

    async def self_hosted(workspace_id: str, environment_id: str) -> dict[str, object]:
        return {"type": "self_hosted"}

    async with ScriptedModelServer(script) as server:
        async with running(store, settings_for(server.url), environments=self_hosted):
            session_id = await create_session(store, agent(tools=[toolset("always_allow")]))
            await send(store, session_id, user_message("Which OS?"))
            blocked = await wait_blocked(store, session_id)
            call = next(e for e in blocked if e.type == "agent.tool_use")
            assert call.data()["executor"] == "client" and call.data()["evaluated_permission"] == "allow"
            assert blocked[-1].data()["stop_reason"] == {"type": "requires_action", "event_ids": [call.id]}
            result = {"tool_use_id": call.id, "content": [{"type": "text", "text": "Linux"}]}
            await store.send_client_events(
                session_id, "wrkspc_test", [NewEvent("user.tool_result", result)], self_hosted=True
            )
            events = await wait_idle(store, session_id)
    assert "agent.tool_result" not in types(events)
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}
    names = [t.get("name") for t in server.requests[0].body["tools"]]
    assert names == ["bash", "read", "write", "edit", "glob", "grep"]  # offered although no sandbox runs here
    assert '"Linux"' in json.dumps(server.requests[1].body["messages"])

"""A session switches its agent to another provider between turns and keeps its history."""

from __future__ import annotations

import json

import pytest

from corral.session import NewEvent, SessionStore
from corral.testing import ScriptedModelServer, reply, text, thinking, tool_use
from tests.harness.helpers import (
    agent,
    create_session,
    custom_tool,
    running,
    send,
    settings_for,
    user_message,
    wait_blocked,
    wait_idle,
)

pytestmark = pytest.mark.anyio

IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


async def test_anthropic_then_openai_then_anthropic(store: SessionStore) -> None:
    script = {
        "replies": [
            reply(thinking("Need the weather."), text("Let me check."), tool_use("get_weather", {"city": "Oslo"})),
            reply(text("It is -3C in Oslo.")),
            reply(text("Bergen is wetter.")),
            reply(text("Both are in Norway.")),
        ]
    }
    tools = [custom_tool("get_weather")]
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent("claude-test", tools=tools))
        message = NewEvent(
            "user.message", {"content": [{"type": "text", "text": "Weather in Oslo?"}, IMAGE]}, queued=True
        )
        await send(store, session_id, message)
        blocked = await wait_blocked(store, session_id)
        call = next(e for e in blocked if e.type == "agent.custom_tool_use")
        result = {"custom_tool_use_id": call.id, "content": [{"type": "text", "text": "-3C"}]}
        await send(store, session_id, NewEvent("user.custom_tool_result", result))
        await wait_idle(store, session_id)
        await store.update_session(session_id, "wrkspc_test", {"agent": agent("openai:gpt-test", tools=tools)})
        await send(store, session_id, user_message("And Bergen?"))
        await wait_idle(store, session_id, 2)
        await store.update_session(session_id, "wrkspc_test", {"agent": agent("claude-test", tools=tools)})
        await send(store, session_id, user_message("Summarise"))
        await wait_idle(store, session_id, 3)
    paths = [r.path for r in server.requests]
    assert paths == ["/v1/messages", "/v1/messages", "/v1/chat/completions", "/v1/messages"]

    openai_messages = server.requests[2].body["messages"]
    assert [m["role"] for m in openai_messages] == ["system", "user", "assistant", "tool", "assistant", "user"]
    user = openai_messages[1]["content"]
    assert user[0] == {"type": "text", "text": "Weather in Oslo?"}
    assert user[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    assistant = openai_messages[2]
    assert assistant["content"] == "Let me check."
    assert assistant["tool_calls"] == [
        {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    ]
    assert openai_messages[3] == {"role": "tool", "tool_call_id": call.id, "content": "-3C"}
    assert "Need the weather" not in json.dumps(openai_messages)  # thinking never crosses providers

    back = server.requests[3].body["messages"]
    assert [m["role"] for m in back] == ["user", "assistant", "user", "assistant", "user", "assistant", "user"]
    assert back[0]["content"][1] == IMAGE
    assert back[1]["content"][-1] == {
        "type": "tool_use",
        "id": call.id,
        "name": "get_weather",
        "input": {"city": "Oslo"},
    }
    assert back[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": call.id,
        "content": [{"type": "text", "text": "-3C"}],
    }
    assert back[5]["content"] == [{"type": "text", "text": "Bergen is wetter."}]

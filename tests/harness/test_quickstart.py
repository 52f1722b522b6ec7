"""The quickstart turn, end to end through the harness on the real store, for both providers."""

from __future__ import annotations

import anyio
import pytest

from corral.session import Delta, Event, SessionStore
from corral.testing import ScriptedModelServer, reply, text, thinking
from tests.harness.helpers import (
    agent,
    create_session,
    running,
    send,
    settings_for,
    types,
    user_message,
    wait_idle,
)

pytestmark = pytest.mark.anyio

MODELS = ["claude-test", "openai:gpt-test"]


@pytest.mark.parametrize("model", MODELS)
async def test_quickstart_turn(store: SessionStore, model: str) -> None:
    script = {"replies": [reply(thinking("The user greets me."), text("Hello! How can I help?"))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent(model))
        await send(store, session_id, user_message("Say hello"))
        events = await wait_idle(store, session_id)
    assert types(events) == [
        "user.message",
        "session.status_running",
        "span.model_request_start",
        "agent.thinking",
        "agent.message",
        "span.model_request_end",
        "session.status_idle",
    ]
    message = events[4].data()
    assert message["content"] == [{"type": "text", "text": "Hello! How can I help?"}]
    end = events[5].data()
    assert end["model_request_start_id"] == events[2].id
    assert end["is_error"] is False
    assert end["model_usage"]["output_tokens"] > 0
    assert events[6].data()["stop_reason"] == {"type": "end_turn"}
    assert events[0].processed_at is not None
    record = await store.get_session(session_id)
    assert record.status == "idle"
    assert record.usage["output_tokens"] == end["model_usage"]["output_tokens"]
    sent = server.requests[0].body
    assert sent["model"] == model.removeprefix("openai:")
    assert "Be brief." in str(sent)


@pytest.mark.parametrize("model", MODELS)
async def test_deltas_preview_the_message(store: SessionStore, model: str) -> None:
    words = "one two three four five six seven eight"
    script = {"replies": [reply(text(words))], "latency": {"tokens_per_second": 200}}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent(model))
        seen: list[Event | Delta] = []
        async with store.subscribe(session_id, frozenset({"agent.message", "agent.thinking"})) as subscriber:
            await send(store, session_id, user_message("Count"))
            with anyio.fail_after(30):
                async for item in subscriber.receive:
                    if isinstance(item, Event | Delta):
                        seen.append(item)
                    if isinstance(item, Event) and item.type == "session.status_idle":
                        break
    kinds = [item.type if isinstance(item, Event) else item.kind for item in seen]
    start = kinds.index("event_start")
    final = kinds.index("agent.message")
    assert kinds.index("span.model_request_start") < start < final < kinds.index("span.model_request_end")
    message = seen[final]
    assert isinstance(message, Event)
    deltas = [item for item in seen if isinstance(item, Delta) and item.kind == "event_delta"]
    assert deltas and all(d.body["event_id"] == message.id for d in deltas)
    opened = seen[start]
    assert isinstance(opened, Delta) and opened.body["event"] == {"type": "agent.message", "id": message.id}
    streamed = "".join(d.body["delta"]["content"]["text"] for d in deltas)
    assert streamed == words == message.data()["content"][0]["text"]


async def test_session_created_with_initial_events_runs(store: SessionStore) -> None:
    script = {"replies": [reply(text("Started."))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent(), user_message("Go"))
        events = await wait_idle(store, session_id)
    assert types(events) == [
        "user.message",
        "session.status_running",
        "span.model_request_start",
        "agent.message",
        "span.model_request_end",
        "session.status_idle",
    ]


async def test_second_turn_sees_the_first(store: SessionStore) -> None:
    script = {"replies": [reply(text("First answer.")), reply(text("Second answer."))]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent())
        await send(store, session_id, user_message("One"))
        await wait_idle(store, session_id)
        await send(store, session_id, user_message("Two"))
        events = await wait_idle(store, session_id, 2)
    second = server.requests[1].body["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[1]["content"] == [{"type": "text", "text": "First answer."}]
    assert [e.data()["content"][0]["text"] for e in events if e.type == "agent.message"] == [
        "First answer.",
        "Second answer.",
    ]

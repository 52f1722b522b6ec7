"""Interrupts stop a turn promptly; messages sent during a turn steer it at the next model request."""

from __future__ import annotations

import json

import anyio
import pytest

from corral.session import NewEvent, SessionStore
from corral.testing import ScriptedModelServer, reply, text
from tests.harness.helpers import (
    agent,
    create_session,
    running,
    send,
    settings_for,
    types,
    user_message,
    wait_for,
    wait_idle,
    wait_requests,
)

pytestmark = pytest.mark.anyio

SLOW_STORY = reply(text(" ".join(f"word{i}" for i in range(100))))  # 10 s at 10 tokens/s


def interrupt() -> NewEvent:
    return NewEvent("user.interrupt", {}, queued=True)


def has(kind: str, count: int = 1):  # a predicate on the log
    return lambda events: types(events).count(kind) >= count


@pytest.mark.parametrize("model", ["claude-test", "openai:gpt-test"])
async def test_interrupt_stops_the_model_stream(store: SessionStore, model: str) -> None:
    script = {
        "replies": [SLOW_STORY],
        "rules": [{"contains": "Something else", "reply": reply(text("Sure."))}],
        "latency": {"tokens_per_second": 10},
    }
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent(model))
        await send(store, session_id, user_message("Tell me a long story"))
        await wait_requests(server, 1)
        await anyio.sleep(0.3)  # a few tokens into the stream
        await send(store, session_id, interrupt())
        events = await wait_idle(store, session_id, wait=5)  # well before the 10 s stream would end
        assert types(events) == [
            "user.message",
            "session.status_running",
            "span.model_request_start",
            "user.interrupt",
            "agent.message",  # what the previews showed, so the message a client saw streaming ends
            "span.model_request_end",
            "session.status_idle",
        ]
        assert str(events[4].data()["content"][0]["text"]).startswith("word0")
        assert events[5].data()["is_error"] is True
        assert events[6].data()["stop_reason"] == {"type": "end_turn"}
        stamped = await wait_for(store, session_id, lambda log: log[3].processed_at is not None)  # right after idle
        assert stamped[:3] == events[:3]
        await send(store, session_id, user_message("Something else"))
        events = await wait_idle(store, session_id, 2)
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}
    assert len(server.requests) == 2
    second = json.dumps(server.requests[1].body["messages"])
    assert "Tell me a long story" in second and "Something else" in second and "word99" not in second


async def test_interrupt_during_backoff(store: SessionStore) -> None:
    script = {"replies": [reply(text("Hi."))], "faults": [{"kind": "rate_limit", "at": 0, "retry_after": 30}]}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent())
        await send(store, session_id, user_message("Hello"))
        await wait_for(store, session_id, has("session.status_rescheduled"))
        await send(store, session_id, interrupt())
        events = await wait_idle(store, session_id, wait=10)
    assert types(events)[-5:] == [
        "span.model_request_end",
        "session.error",
        "session.status_rescheduled",
        "user.interrupt",
        "session.status_idle",
    ]
    assert len(server.requests) == 1


async def test_a_message_during_a_turn_steers_it(store: SessionStore) -> None:
    first = reply(text(" ".join(f"part{i}" for i in range(10))))  # about 1 s at 10 tokens/s
    script = {"replies": [first, reply(text("Noted, adding that."))], "latency": {"tokens_per_second": 10}}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent())
        await send(store, session_id, user_message("Write something"))
        await wait_requests(server, 1)
        await send(store, session_id, user_message("Also mention llamas"))
        events = await wait_idle(store, session_id)
    assert types(events) == [
        "user.message",
        "session.status_running",
        "span.model_request_start",
        "user.message",
        "agent.message",
        "span.model_request_end",
        "span.model_request_start",
        "agent.message",
        "span.model_request_end",
        "session.status_idle",
    ]
    assert all(e.processed_at is not None for e in events if e.type == "user.message")
    messages = server.requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert "part9" in json.dumps(messages[1]) and "llamas" in json.dumps(messages[2])

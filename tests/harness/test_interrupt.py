"""Interrupts stop a turn promptly; messages sent during a turn steer it at the next model request."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from corral.session import Event, NewEvent, SessionStore
from corral.testing import ScriptedModelServer, reply, text
from tests.harness.helpers import (
    Points,
    agent,
    create_session,
    eventually,
    has,
    running,
    send,
    settings_for,
    types,
    user_message,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.anyio

SLOW_STORY = reply(text(" ".join(f"word{i}" for i in range(300))))  # 30 s at 10 tokens/s


def interrupt() -> NewEvent:
    return NewEvent("user.interrupt", {}, queued=True)


def sending(store: SessionStore, event: NewEvent) -> Callable[[str], Awaitable[list[Event]]]:
    """An action for ``Points.once``: send ``event`` to the session that reached the point."""
    return lambda session_id: send(store, session_id, event)


@pytest.mark.parametrize("model", ["claude-test", "openai:gpt-test"])
async def test_interrupt_stops_the_model_stream(store: SessionStore, model: str) -> None:
    script = {
        "replies": [SLOW_STORY],
        "rules": [{"contains": "Something else", "reply": reply(text("Sure."))}],
        "latency": {"tokens_per_second": 10},
    }
    points = Points()
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url), hook=points):
        session_id = await create_session(store, agent(model))
        points.once("first_token", sending(store, interrupt()))  # tokens are streaming in
        await send(store, session_id, user_message("Tell me a long story"))
        events = await wait_idle(store, session_id, wait=20)  # well before the 30 s stream would end
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

        async def interrupt_stamped() -> bool:  # right after idle; a stamp is no event, so it is looked for
            return (await store.get_events(session_id))[3].processed_at is not None

        await eventually(interrupt_stamped)
        stamped = await store.get_events(session_id)
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
        events = await wait_idle(store, session_id, wait=20)  # well before the 30 s backoff would end
    assert types(events)[-5:] == [
        "span.model_request_end",
        "session.error",
        "session.status_rescheduled",
        "user.interrupt",
        "session.status_idle",
    ]
    assert len(server.requests) == 1


async def test_a_message_during_a_turn_steers_it(store: SessionStore) -> None:
    first = reply(text(" ".join(f"part{i}" for i in range(10))))
    script = {"replies": [first, reply(text("Noted, adding that."))]}
    points = Points()
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url), hook=points):
        session_id = await create_session(store, agent())
        points.once("first_token", sending(store, user_message("Also mention llamas")))  # while the model answers
        await send(store, session_id, user_message("Write something"))
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

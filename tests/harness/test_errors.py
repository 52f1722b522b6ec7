"""Bad input from the model: every failure kind is retried with backoff, then reported; loops are stopped."""

from __future__ import annotations

import pytest

from corral.session import SessionStore
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.harness.helpers import (
    agent,
    create_session,
    idle_count,
    running,
    send,
    settings_for,
    types,
    user_message,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.anyio

EXPECTED = {
    ("rate_limit", "anthropic"): "model_rate_limited_error",
    ("rate_limit", "openai"): "model_rate_limited_error",
    ("server_error", "anthropic"): "model_request_failed_error",
    ("server_error", "openai"): "model_request_failed_error",
    ("overloaded", "anthropic"): "model_overloaded_error",
    ("overloaded", "openai"): "model_overloaded_error",
    ("stream_error", "anthropic"): "model_overloaded_error",
    ("stream_error", "openai"): "model_request_failed_error",
    ("malformed", "anthropic"): "model_request_failed_error",
    ("malformed", "openai"): "model_request_failed_error",
    ("reset", "anthropic"): "model_request_failed_error",
    ("reset", "openai"): "model_request_failed_error",
    ("invalid_tool_json", "anthropic"): "model_request_failed_error",
    ("invalid_tool_json", "openai"): "model_request_failed_error",
}
MODEL = {"anthropic": "claude-test", "openai": "openai:gpt-test"}


@pytest.mark.parametrize(("kind", "protocol"), sorted(EXPECTED))
async def test_failures_are_retried_then_the_turn_goes_on(store: SessionStore, kind: str, protocol: str) -> None:
    first = (
        reply(text("Calling."), tool_use("lookup", {"q": "x"})) if kind == "invalid_tool_json" else reply(text("Fine."))
    )
    script = {
        "replies": [first, reply(text("Fine."))],
        "faults": [{"kind": kind, "at": 0, "times": 2, "retry_after": 0.01}],
    }
    custom = [{"type": "custom", "name": "lookup", "description": "", "input_schema": {"type": "object"}}]
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent(MODEL[protocol], tools=custom))
        await send(store, session_id, user_message("Go"))
        settled = ("end_turn", "requires_action")
        events = await wait_for(store, session_id, lambda log: idle_count(log, settled) >= 1)
    errors = [e.data()["error"] for e in events if e.type == "session.error"]
    assert [e["type"] for e in errors] == [EXPECTED[(kind, protocol)]] * 2
    assert all(e["retry_status"] == {"type": "retrying"} for e in errors)
    ends = [e.data() for e in events if e.type == "span.model_request_end"]
    assert [end["is_error"] for end in ends] == [True, True, False]
    assert types(events)[2:6] == [
        "span.model_request_start",
        "span.model_request_end",
        "session.error",
        "session.status_rescheduled",
    ]
    assert types(events)[6] == "session.status_running"
    assert [r.fault for r in server.requests] == [kind, kind, None]
    assert len(server.requests) == 3


@pytest.mark.parametrize("protocol", ["anthropic", "openai"])
async def test_retries_run_out(store: SessionStore, protocol: str) -> None:
    script = {"replies": [reply(text("Finally."))], "faults": [{"kind": "overloaded", "at": 0, "times": 3}]}
    async with ScriptedModelServer(script) as server:
        settings = settings_for(server.url, model_max_retries=2)
        async with running(store, settings):
            session_id = await create_session(store, agent(MODEL[protocol]))
            await send(store, session_id, user_message("Go"))
            events = await wait_idle(store, session_id)
            assert (await store.get_session(session_id)).status == "idle"
            errors = [e.data()["error"] for e in events if e.type == "session.error"]
            assert [e["retry_status"]["type"] for e in errors] == ["retrying", "retrying", "exhausted"]
            assert {e["type"] for e in errors} == {"model_overloaded_error"}
            assert events[-1].data()["stop_reason"] == {"type": "retries_exhausted"}
            assert types(events)[-3:] == ["span.model_request_end", "session.error", "session.status_idle"]
            assert events[0].processed_at is not None
            # the next message starts a fresh turn (the faults are used up now)
            await send(store, session_id, user_message("Again"))
            events = await wait_idle(store, session_id, 2)
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}
    assert len(server.requests) == 4


async def test_retry_after_is_honoured(store: SessionStore) -> None:
    script = {
        "replies": [reply(text("Ok."))],
        "faults": [{"kind": "rate_limit", "at": 0, "times": 1, "retry_after": 0.6}],
    }
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent())
        await send(store, session_id, user_message("Go"))
        await wait_idle(store, session_id)
    first, second = server.requests
    assert second.received_at - first.received_at >= 0.55


async def test_unknown_provider_is_reported_at_once(store: SessionStore) -> None:
    async with ScriptedModelServer({"replies": []}) as server, running(store, settings_for(server.url)):
        session_id = await create_session(store, agent("nosuch:model"))
        await send(store, session_id, user_message("Go"))
        events = await wait_idle(store, session_id)
    assert types(events) == ["user.message", "session.status_running", "session.error", "session.status_idle"]
    error = events[2].data()["error"]
    assert error["type"] == "model_request_failed_error" and error["retry_status"] == {"type": "exhausted"}
    assert "nosuch" in error["message"]
    assert server.requests == []


@pytest.mark.parametrize("protocol", ["anthropic", "openai"])
async def test_tool_loop_is_stopped(store: SessionStore, protocol: str) -> None:
    script = {"replies": [reply(tool_use("bash", {"command": "again"}))]}  # the same answer forever
    disabled = {"type": "agent_toolset_20260401", "default_config": {"enabled": False}}
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url, max_tool_rounds=3)):
        session_id = await create_session(store, agent(MODEL[protocol], tools=[disabled]))
        await send(store, session_id, user_message("Loop"))
        events = await wait_idle(store, session_id)
    assert len(server.requests) == 3
    assert types(events).count("agent.tool_result") == 3
    error = next(e for e in events if e.type == "session.error").data()["error"]
    assert error["type"] == "tool_use_limit_reached_error" and error["retry_status"] == {"type": "exhausted"}
    assert events[-1].data()["stop_reason"] == {"type": "retries_exhausted"}

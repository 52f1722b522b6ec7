"""Compaction is a view: summaries in events, the log intact; overflow degrades to truncation; limits stop it.

The provider's ``context_window`` is set to 2000 tokens (about 8000 characters by corral's estimate), so a
few long messages overflow it.
"""

from __future__ import annotations

import json

import pytest

from corral.config import ProviderConfig
from corral.session import Event, SessionStore
from corral.testing import ScriptedModelServer, reply, text
from tests.harness.helpers import agent, create_session, running, send, settings_for, types, user_message, wait_idle

pytestmark = pytest.mark.anyio

WINDOW = 2000
SUMMARY = "SUMMARY: the user said hello and sent a long note about llamas."
SCRIPT = {
    "replies": [reply(text("ok"))],
    "rules": [{"system_contains": "You compact conversations", "reply": reply(text(SUMMARY))}],
}


def small_window(url: str) -> dict[str, ProviderConfig]:
    return {"anthropic": ProviderConfig("anthropic", "anthropic", base_url=url, api_key="t", context_window=WINDOW)}


def note(label: str, chars: int) -> str:
    return (label + " " + "llama " * chars)[:chars]


async def run_turns(store: SessionStore, url: str, *messages: str) -> tuple[str, list[Event]]:
    async with running(store, settings_for(url, providers=small_window(url))):
        session_id = await create_session(store, agent(system=None))
        events: list[Event] = []
        for count, message in enumerate(messages, start=1):
            await send(store, session_id, user_message(message))
            events = await wait_idle(store, session_id, count)
    return session_id, events


def is_compaction(body: dict[str, object]) -> bool:
    return "You compact conversations" in json.dumps(body.get("system", ""))


async def test_older_turns_are_summarised(store: SessionStore) -> None:
    async with ScriptedModelServer(SCRIPT) as server:
        long_one = note("LONG-NOTE", 3600)
        session_id, _ = await run_turns(store, server.url, "hello", long_one, note("LATEST", 2800))
    events = await store.get_events(session_id)
    compacted = [e for e in events if e.type == "agent.thread_context_compacted"]
    assert len(compacted) == 1
    data = compacted[0].data()
    assert data["method"] == "summary" and data["summary"] == SUMMARY
    latest = [e for e in events if e.type == "user.message"][-1]
    assert data["through_seq"] == latest.seq - 1
    bodies = [r.body for r in server.requests]
    assert [is_compaction(b) for b in bodies] == [False, False, True, False]
    assert "LONG-NOTE" in json.dumps(bodies[2]["messages"])
    after = json.dumps(bodies[3]["messages"])
    assert SUMMARY in after and "LATEST" in after and "LONG-NOTE" not in after
    # the log is intact: every message is still there, in order
    assert [e.data()["content"][0]["text"][:9] for e in events if e.type == "user.message"] == [
        "hello",
        "LONG-NOTE",
        "LATEST ll",
    ]
    starts = [e for e in events if e.type == "span.model_request_start"]
    assert [e.data()["purpose"] for e in starts] == ["turn", "turn", "compaction", "turn"]
    assert types(events)[-9:] == [
        "user.message",
        "session.status_running",
        "span.model_request_start",
        "agent.thread_context_compacted",
        "span.model_request_end",
        "span.model_request_start",
        "agent.message",
        "span.model_request_end",
        "session.status_idle",
    ]


async def test_a_summary_that_would_overflow_degrades_to_truncation(store: SessionStore) -> None:
    async with ScriptedModelServer(SCRIPT) as server:
        session_id, _ = await run_turns(store, server.url, "hello", note("HUGE-NOTE", 5800), note("LATEST", 400))
    events = await store.get_events(session_id)
    (compacted,) = [e.data() for e in events if e.type == "agent.thread_context_compacted"]
    assert compacted["method"] == "truncation"
    assert "dropped to fit the context window" in compacted["summary"]
    bodies = [r.body for r in server.requests]
    assert not any(is_compaction(b) for b in bodies)
    assert len(bodies) == 3
    after = json.dumps(bodies[2]["messages"])
    assert "HUGE-NOTE" not in after and "LATEST" in after and "dropped to fit" in after
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}


async def test_input_that_cannot_fit_stops_the_turn(store: SessionStore) -> None:
    async with ScriptedModelServer(SCRIPT) as server:
        session_id, events = await run_turns(store, server.url, "hello", note("ENORMOUS", 6400))
    events = await store.get_events(session_id)
    error = next(e for e in events if e.type == "session.error").data()["error"]
    assert error["type"] == "compaction_limit_reached_error"
    assert error["retry_status"] == {"type": "exhausted"}
    assert events[-1].data()["stop_reason"] == {"type": "retries_exhausted"}
    assert [is_compaction(r.body) for r in server.requests] == [False, True]
    assert (await store.get_session(session_id)).status == "idle"

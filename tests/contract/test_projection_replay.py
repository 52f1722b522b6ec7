"""Property: the session row is a projection of the log. Whatever events are appended (in any batches),
replaying the stored log through ``project`` gives the row's status, usage and pending actions."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral.session import EventType, NewEvent, SessionStore
from corral.session.records import SessionState, empty_usage, project

from .helpers import make_session

pytestmark = pytest.mark.anyio

USAGE = st.fixed_dictionaries(
    {},
    optional={
        "input_tokens": st.integers(0, 1000),
        "output_tokens": st.integers(0, 1000),
        "cache_read_input_tokens": st.integers(0, 1000),
        "cache_creation_input_tokens": st.integers(0, 1000),
    },
)


@st.composite
def event(draw: st.DrawFn) -> NewEvent:
    kinds: list[EventType] = [
        "session.status_running",
        "session.status_idle",
        "session.status_rescheduled",
        "agent.message",
        "agent.custom_tool_use",
        "agent.tool_use",
        "span.model_request_end",
        "user.message",
        "user.interrupt",
    ]
    kind = draw(st.sampled_from(kinds))
    if kind == "session.status_idle":
        stop = draw(st.sampled_from([{"type": "end_turn"}, {"type": "requires_action", "event_ids": ["sevt_a"]}]))
        return NewEvent(kind, {"stop_reason": stop})
    if kind == "agent.tool_use":
        return NewEvent(
            kind, {"name": "bash", "input": {}, "evaluated_permission": draw(st.sampled_from(["ask", "allow"]))}
        )
    if kind == "span.model_request_end":
        return NewEvent(kind, {"model_usage": draw(USAGE)})
    return NewEvent(kind, {})


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(event(), min_size=1, max_size=4), min_size=1, max_size=8))
async def test_the_row_is_the_replayed_log(store: SessionStore, batches: list[list[NewEvent]]) -> None:
    record = await make_session(store)
    for batch in batches:
        await store.emit_events(record.id, batch)
    state = SessionState("idle", json.dumps(empty_usage()), "[]", 0.0, None, False)
    for stored in await store.get_events(record.id):
        project(state, stored.id, stored.type, stored.data(), 0.0)
    row = await store.get_session(record.id)
    assert (row.status, row.usage, row.pending_actions, row.runnable) == (
        state.status,
        state.usage,
        state.pending_actions,
        state.runnable,
    )
    assert (row.running_since is None) == (state.running_since is None)

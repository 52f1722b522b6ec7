"""Pure parts of the session log: the projection step, the client-event rules, the wire form of events."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.errors import Conflict, ErrorCode, InvalidRequest
from corral.session import Event, NewEvent, dumps
from corral.session.inputs import check_batch, check_event
from corral.session.records import SessionState, empty_usage, project


def fresh() -> SessionState:
    return SessionState("idle", json.dumps(empty_usage()), "[]", 0.0, None, False)


def test_running_and_idle_accumulate_active_seconds() -> None:
    state = fresh()
    project(state, "e1", "session.status_running", {}, 100.0)
    assert (state.status, state.running_since) == ("running", 100.0)
    project(state, "e2", "session.status_running", {}, 105.0)  # already running: the clock keeps going
    assert state.running_since == 100.0
    project(state, "e3", "session.status_idle", {"stop_reason": {"type": "end_turn"}}, 110.5)
    assert (state.status, state.running_since, state.active_seconds) == ("idle", None, 10.5)
    project(state, "e4", "session.status_running", {}, 200.0)
    project(state, "e5", "session.status_terminated", {}, 201.0)
    assert (state.status, state.active_seconds, state.runnable) == ("terminated", 11.5, False)


def test_waking_events_make_the_session_runnable_once() -> None:
    state = fresh()
    project(state, "e1", "agent.message", {}, 1.0)
    assert not state.runnable and not state.woke
    project(state, "e2", "user.message", {}, 1.0)
    assert state.runnable and state.woke
    state.woke = False
    project(state, "e3", "user.interrupt", {}, 1.0)
    assert state.runnable and not state.woke  # already runnable: nothing new to announce
    terminated = fresh()
    project(terminated, "e1", "session.status_terminated", {}, 1.0)
    project(terminated, "e2", "user.message", {}, 1.0)
    assert not terminated.runnable


def test_pending_actions() -> None:
    state = fresh()
    project(state, "use1", "agent.custom_tool_use", {}, 1.0)
    project(state, "use2", "agent.tool_use", {"evaluated_permission": "ask"}, 1.0)
    project(state, "use3", "agent.tool_use", {"evaluated_permission": "allow"}, 1.0)
    project(state, "use4", "agent.mcp_tool_use", {"evaluated_permission": "ask"}, 1.0)
    assert state.pending_actions == ["use1", "use2", "use4"]
    project(state, "r1", "user.tool_confirmation", {"tool_use_id": "use2"}, 1.0)
    project(state, "r2", "user.custom_tool_result", {"custom_tool_use_id": "use1"}, 1.0)
    project(state, "r3", "user.tool_result", {"tool_use_id": "nope"}, 1.0)
    assert state.pending_actions == ["use4"]
    idle = {"stop_reason": {"type": "requires_action", "event_ids": ["use4", "x"]}}
    project(state, "i", "session.status_idle", idle, 1.0)
    assert state.pending_actions == ["use4", "x"]
    assert json.loads(state.pending_json()) == ["use4", "x"]


def test_usage_is_summed_and_untouched_json_stays_as_is() -> None:
    state = fresh()
    text = state.usage_json()
    project(state, "e", "agent.message", {}, 1.0)
    assert state.usage_json() is text  # no JSON work for events that do not touch usage
    project(state, "m", "span.model_request_end", {"model_usage": {"input_tokens": 3, "output_tokens": 4}}, 1.0)
    project(state, "m", "span.model_request_end", {"model_usage": {"cache_creation_input_tokens": 5}}, 1.0)
    assert json.loads(state.usage_json()) == {
        "input_tokens": 3,
        "output_tokens": 4,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 5},
    }


def test_signature_changes_exactly_when_the_row_must_be_written() -> None:
    state = fresh()
    before = state.signature()
    project(state, "e", "agent.message", {}, 1.0)
    project(state, "t", "agent.tool_use", {"evaluated_permission": "allow"}, 1.0)
    assert state.signature() == before
    project(state, "r", "session.status_rescheduled", {}, 1.0)
    assert state.signature() != before


def user(text: str = "hi") -> NewEvent:
    return NewEvent("user.message", {"content": [{"type": "text", "text": text}]})


SYSTEM = NewEvent("system.message", {"content": []})


@pytest.mark.parametrize(
    "batch",
    [
        [SYSTEM],
        [user(), SYSTEM, user()],
        [user(), SYSTEM, SYSTEM],
        [NewEvent("user.interrupt"), SYSTEM],
        [NewEvent("user.define_outcome", {"description": "x"}), NewEvent("user.define_outcome", {"description": "y"})],
        [NewEvent("user.tool_result", {"tool_use_id": "x"})],
    ],
)
def test_batches_refused(batch: list[NewEvent]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_batch(batch)
    assert refused.value.code == ErrorCode.INVALID_EVENT


@pytest.mark.parametrize(
    "batch",
    [
        [user()],
        [user(), SYSTEM],
        [NewEvent("user.custom_tool_result", {"custom_tool_use_id": "x"}), SYSTEM],
        [NewEvent("user.interrupt"), user()],
    ],
)
def test_batches_accepted(batch: list[NewEvent]) -> None:
    check_batch(batch)


def test_tool_results_only_for_self_hosted_sessions() -> None:
    result = NewEvent("user.tool_result", {"tool_use_id": "x"})
    check_batch([result, SYSTEM], self_hosted=True)


def test_event_checks_against_the_state() -> None:
    state = fresh()
    project(state, "use1", "agent.custom_tool_use", {}, 1.0)
    check_event(state, False, NewEvent("user.custom_tool_result", {"custom_tool_use_id": "use1"}))
    with pytest.raises(InvalidRequest) as unknown:
        check_event(state, False, NewEvent("user.tool_confirmation", {"tool_use_id": "use2"}))
    assert unknown.value.code == ErrorCode.UNKNOWN_TOOL_USE
    with pytest.raises(Conflict) as archived:
        check_event(state, True, user())
    assert archived.value.code == ErrorCode.SESSION_TERMINATED


def test_new_events_refuse_reserved_fields() -> None:
    for key in ("type", "id", "processed_at"):
        with pytest.raises(ValueError):
            NewEvent("agent.message", {key: "x"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(
    data=st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("type", "id", "processed_at")), json_values),
    processed=st.one_of(st.none(), st.just("2026-11-26T00:00:00.000000Z")),
)
def test_wire_json_is_the_wire_object(data: dict[str, object], processed: str | None) -> None:
    event = Event("sesn_x", 1, "sevt_x", "agent.message", processed, "2026-11-26T00:00:00.000000Z", dumps(data))
    assert (
        json.loads(event.wire_json())
        == event.wire()
        == {
            "type": "agent.message",
            "id": "sevt_x",
            "processed_at": processed,
            **data,
        }
    )


def _use(state: SessionState, event_id: str, name: str, permission: str) -> None:
    project(state, event_id, "agent.tool_use", {"name": name, "input": {}, "evaluated_permission": permission}, 1.0)


def test_server_tool_calls_are_counted_when_they_run() -> None:
    state = fresh()
    _use(state, "t1", "web_search", "allow")  # runs at once
    _use(state, "t2", "bash", "allow")  # not a server tool
    _use(state, "t3", "web_fetch", "ask")  # waits for a confirmation
    _use(state, "t4", "web_search", "ask")
    _use(state, "t5", "web_search", "deny")  # never runs
    assert state.usage["server_tool_use"] == {"web_fetch_requests": 0, "web_search_requests": 1}
    assert state.server_calls == {"t3": "web_fetch", "t4": "web_search"}
    project(state, "c1", "user.tool_confirmation", {"tool_use_id": "t3", "result": "allow"}, 1.0)
    project(state, "c2", "user.tool_confirmation", {"tool_use_id": "t4", "result": "deny"}, 1.0)
    assert state.usage["server_tool_use"] == {"web_fetch_requests": 1, "web_search_requests": 1}
    assert state.server_calls == {} and state.pending_actions == []


def test_a_confirmation_without_waiting_server_calls_reads_no_json() -> None:
    state = fresh()
    project(state, "c1", "user.tool_confirmation", {"tool_use_id": "t1", "result": "allow"}, 1.0)
    assert "server_tool_use" not in state.usage
    assert state.server_calls_json() == "{}"

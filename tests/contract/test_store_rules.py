"""Client events (``send_client_events``: checked against the session, all or nothing) and the session
projection kept in step with the log (status, usage, pending actions, active seconds)."""

from __future__ import annotations

import pytest

from corral._types import JSONObject
from corral.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from corral.session import EventType, NewEvent, SessionStore

from .helpers import WORKSPACE, make_session, message, until_clock_passes

pytestmark = pytest.mark.anyio


def user(text: str = "hi") -> NewEvent:
    return NewEvent("user.message", {"content": [{"type": "text", "text": text}]}, queued=True)


def outcome() -> NewEvent:
    rubric: JSONObject = {"type": "text", "content": "- has x"}
    data: JSONObject = {"outcome_id": "outc_x", "description": "x", "rubric": rubric, "max_iterations": 3}
    return NewEvent("user.define_outcome", data)


async def test_client_events_are_appended_and_wake_the_session(store: SessionStore) -> None:
    record = await make_session(store)
    sent = await store.send_client_events(record.id, WORKSPACE, [user("a"), user("b")])
    assert [(e.seq, e.type, e.processed_at) for e in sent] == [(1, "user.message", None), (2, "user.message", None)]
    assert (await store.get_session(record.id)).runnable


async def test_client_events_respect_the_workspace(store: SessionStore) -> None:
    record = await make_session(store)
    with pytest.raises(NotFound):
        await store.send_client_events(record.id, "wrkspc_other", [user()])
    assert await store.get_events(record.id) == []


async def test_batch_rules(store: SessionStore) -> None:
    record = await make_session(store)
    system = NewEvent("system.message", {"content": [{"type": "text", "text": "be brief"}]})
    bad_batches = [
        [system],
        [user(), system, user()],
        [user(), system, system],
        [NewEvent("user.interrupt"), system],
        [NewEvent("user.tool_result", {"tool_use_id": "sevt_x", "content": []})],
        [outcome(), outcome()],  # one outcome at a time
    ]
    for batch in bad_batches:
        with pytest.raises(InvalidRequest) as refused:
            await store.send_client_events(record.id, WORKSPACE, batch)
        assert refused.value.code == ErrorCode.INVALID_EVENT
    ok = await store.send_client_events(record.id, WORKSPACE, [user(), system])
    assert [e.type for e in ok] == ["user.message", "system.message"]
    result = NewEvent("user.tool_result", {"tool_use_id": "sevt_x", "content": []})
    assert len(await store.send_client_events(record.id, WORKSPACE, [result], self_hosted=True)) == 1


async def test_answers_must_reference_pending_actions_and_batches_are_all_or_nothing(store: SessionStore) -> None:
    record = await make_session(store)
    ask = await store.emit_event(
        record.id, NewEvent("agent.tool_use", {"name": "bash", "input": {}, "evaluated_permission": "ask"})
    )
    custom = await store.emit_event(record.id, NewEvent("agent.custom_tool_use", {"name": "lookup", "input": {}}))
    assert (await store.get_session(record.id)).pending_actions == [ask.id, custom.id]
    confirm = NewEvent("user.tool_confirmation", {"tool_use_id": ask.id, "result": "allow"})
    unknown = NewEvent("user.tool_confirmation", {"tool_use_id": "sevt_unknown", "result": "allow"})
    with pytest.raises(InvalidRequest) as refused:
        await store.send_client_events(record.id, WORKSPACE, [confirm, unknown])
    assert refused.value.code == ErrorCode.UNKNOWN_TOOL_USE
    assert (await store.get_session(record.id)).last_seq == 2  # nothing of the batch was written
    # an answer counts once: the same confirmation twice in one batch is refused whole
    with pytest.raises(InvalidRequest):
        await store.send_client_events(record.id, WORKSPACE, [confirm, confirm])
    await store.send_client_events(record.id, WORKSPACE, [confirm])
    answer = NewEvent("user.custom_tool_result", {"custom_tool_use_id": custom.id, "content": []})
    await store.send_client_events(record.id, WORKSPACE, [answer])
    record = await store.get_session(record.id)
    assert record.pending_actions == [] and record.runnable and record.last_seq == 4


async def test_terminated_or_archived_sessions_take_no_client_events(store: SessionStore) -> None:
    terminated = await make_session(store)
    await store.emit_event(terminated.id, NewEvent("session.status_terminated"))
    archived = await make_session(store)
    await store.archive_session(archived.id, WORKSPACE)
    for record in (terminated, archived):
        with pytest.raises(Conflict) as refused:
            await store.send_client_events(record.id, WORKSPACE, [user()])
        assert refused.value.code == ErrorCode.SESSION_TERMINATED
    assert not (await store.get_session(terminated.id)).runnable


async def test_status_projection(store: SessionStore) -> None:
    record = await make_session(store)
    steps: list[tuple[EventType, JSONObject, str]] = [
        ("session.status_running", {}, "running"),
        ("session.status_rescheduled", {}, "rescheduling"),
        ("session.status_running", {}, "running"),
        ("session.status_idle", {"stop_reason": {"type": "end_turn"}}, "idle"),
        ("session.status_terminated", {}, "terminated"),
    ]
    for event_type, data, status in steps:
        await store.emit_event(record.id, NewEvent(event_type, data))
        assert (await store.get_session(record.id)).status == status


async def test_usage_accumulates_from_model_requests(store: SessionStore) -> None:
    record = await make_session(store)
    usage = {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2, "cache_creation_input_tokens": 3}
    await store.emit_events(
        record.id,
        [
            NewEvent("span.model_request_end", {"model_usage": usage}),
            message(1),
            NewEvent("span.model_request_end", {"model_usage": {"input_tokens": 1, "output_tokens": None}}),
        ],
    )
    assert (await store.get_session(record.id)).usage == {
        "input_tokens": 11,
        "output_tokens": 5,
        "cache_read_input_tokens": 2,
        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 3},
    }


async def test_requires_action_idle_sets_the_pending_actions(store: SessionStore) -> None:
    record = await make_session(store)
    use = await store.emit_event(record.id, NewEvent("agent.custom_tool_use", {"name": "x", "input": {}}))
    idle = {"stop_reason": {"type": "requires_action", "event_ids": [use.id]}}
    await store.emit_event(record.id, NewEvent("session.status_idle", idle))
    assert (await store.get_session(record.id)).pending_actions == [use.id]
    await store.emit_event(record.id, NewEvent("session.status_idle", {"stop_reason": {"type": "end_turn"}}))
    assert (await store.get_session(record.id)).pending_actions == []


async def test_active_seconds_count_running_time_on_the_database_clock(store: SessionStore) -> None:
    record = await make_session(store)
    await store.emit_event(record.id, NewEvent("session.status_running"))
    running = await store.get_session(record.id)
    assert running.running_since is not None and running.active_seconds == 0
    await until_clock_passes(store, running.running_since + 0.3)
    await store.emit_event(record.id, NewEvent("session.status_idle", {"stop_reason": {"type": "end_turn"}}))
    idle = await store.get_session(record.id)
    assert 0.25 <= idle.active_seconds < 5 and idle.running_since is None
    assert idle.active_seconds_at(1e12) == idle.active_seconds  # not running: the clock does not matter
    await store.emit_event(record.id, NewEvent("session.status_running"))
    again = await store.get_session(record.id)
    assert again.running_since is not None
    assert again.active_seconds_at(again.running_since + 2) == pytest.approx(idle.active_seconds + 2)
    await store.archive_session(record.id, WORKSPACE)
    archived = await store.get_session(record.id)
    assert archived.active_seconds >= idle.active_seconds and archived.running_since is None


async def test_outcome_evaluations_follow_the_log_and_one_outcome_runs_at_a_time(store: SessionStore) -> None:
    record = await make_session(store)
    await store.send_client_events(record.id, WORKSPACE, [outcome()])

    async def results() -> list[tuple[object, object]]:
        return [(entry["result"], entry["iteration"]) for entry in (await store.get_session(record.id)).outcomes]

    assert await results() == [("pending", 0)]
    span: JSONObject = {"outcome_id": "outc_x", "iteration": 0}
    steps: list[tuple[NewEvent, tuple[str, int]]] = [
        (NewEvent("span.model_request_start", {"model": "m", "purpose": "turn"}), ("running", 0)),
        (NewEvent("span.outcome_evaluation_start", span), ("evaluating", 0)),
        (
            NewEvent("span.outcome_evaluation_end", {**span, "result": "needs_revision", "explanation": "e"}),
            ("needs_revision", 0),
        ),
        (NewEvent("span.model_request_start", {"model": "m", "purpose": "compaction"}), ("needs_revision", 0)),
        (NewEvent("span.model_request_start", {"model": "m", "purpose": "turn"}), ("running", 1)),
    ]
    for event, expected in steps:
        await store.emit_event(record.id, event)
        assert await results() == [expected]
    with pytest.raises(InvalidRequest) as refused:  # one outcome at a time, checked in the append transaction
        await store.send_client_events(record.id, WORKSPACE, [outcome()])
    assert refused.value.code == ErrorCode.INVALID_EVENT
    last = {"outcome_id": "outc_x", "iteration": 1, "result": "satisfied", "explanation": "ok"}
    await store.emit_event(record.id, NewEvent("span.outcome_evaluation_end", last))
    (entry,) = (await store.get_session(record.id)).outcomes
    assert (entry["result"], entry["explanation"], entry["completed_at"] is not None) == ("satisfied", "ok", True)
    await store.send_client_events(record.id, WORKSPACE, [outcome()])  # the next one, once the first ended
    assert await results() == [("satisfied", 1), ("pending", 0)]

"""The pure parts of the harness: the log fold, the decision, the context view and compaction planning."""

from __future__ import annotations

from typing import Any

from corral.harness import compaction
from corral.harness.context import MISSING_RESULT, SUMMARY_PREAMBLE, Compaction, build_messages
from corral.harness.decide import (
    RESCHEDULED,
    RUNNING,
    Block,
    CallModel,
    CloseSpan,
    Done,
    EndTurn,
    Execute,
    HandleInterrupt,
    Refuse,
    ToolLimit,
    decide,
)
from corral.harness.log import TurnState
from corral.harness.models.content import Message, Text, ToolOutput, ToolUse
from corral.session import Event, dumps


def log(*items: tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str]) -> list[Event]:
    """Events at positions 1, 2, 3 … with ids ``e1``, ``e2`` … (or the id given third)."""
    events: list[Event] = []
    for seq, item in enumerate(items, start=1):
        kind, data = item[0], item[1]
        event_id = item[2] if len(item) == 3 else f"e{seq}"
        stamp = None if kind.startswith("user.") else "2026-11-26T00:00:00Z"
        events.append(Event("sesn_x", seq, event_id, kind, stamp, "2026-11-26T00:00:00Z", dumps(data)))
    return events


def msg(value: str) -> tuple[str, dict[str, Any]]:
    return ("user.message", {"content": [{"type": "text", "text": value}]})


def said(value: str) -> tuple[str, dict[str, Any]]:
    return ("agent.message", {"content": [{"type": "text", "text": value}]})


START = ("span.model_request_start", {"purpose": "turn"})
END = ("span.model_request_end", {"is_error": False, "stop_reason": "end_turn"})
RUN = ("session.status_running", {})


def state(events: list[Event]) -> TurnState:
    folded = TurnState()
    for event in events:
        folded.apply(event)
    return folded


def next_step(events: list[Event], resuming: bool = False, rounds: int = 10) -> Any:
    return decide(state(events), resuming=resuming, max_tool_rounds=rounds)


# ---------------------------------------------------------------------------------------------- decide


def test_new_input_starts_a_turn() -> None:
    step = next_step(log(msg("hi")))
    assert isinstance(step, CallModel) and step.prelude == (RUNNING,)


def test_a_final_answer_ends_the_turn() -> None:
    assert isinstance(next_step(log(msg("hi"), RUN, START, said("yo"), END)), EndTurn)


def test_a_message_that_arrived_during_the_request_is_taken_up() -> None:
    assert isinstance(next_step(log(msg("hi"), RUN, START, msg("also"), said("yo"), END)), CallModel)


def test_a_message_queued_before_a_compaction_is_still_new_input() -> None:
    compacting = ("span.model_request_start", {"purpose": "compaction"})
    compacted = ("agent.thread_context_compacted", {"summary": "S", "through_seq": 2})
    events = log(msg("hi"), RUN, START, said("yo"), END, msg("also"), compacting, compacted, END)
    assert isinstance(next_step(events), CallModel)


def test_an_open_span_is_closed_by_a_worker_that_takes_over() -> None:
    step = next_step(log(msg("hi"), RUN, START), resuming=True)
    assert isinstance(step, CloseSpan) and step.prelude == (RESCHEDULED, RUNNING)


def test_a_session_created_running_is_not_a_takeover() -> None:
    step = next_step(log(msg("hi"), RUN), resuming=True)
    assert isinstance(step, CallModel) and step.prelude == ()


def test_allowed_calls_run_refused_ones_are_answered_client_ones_block() -> None:
    items = [
        msg("go"),
        RUN,
        START,
        ("agent.tool_use", {"name": "bash", "input": {}, "evaluated_permission": "allow"}),
        ("agent.tool_use", {"name": "nope", "input": {}, "evaluated_permission": "deny"}),
        ("agent.custom_tool_use", {"name": "mine", "input": {}}),
        END,
    ]
    step = next_step(log(*items))
    assert isinstance(step, Execute) and [c.event_id for c in step.calls] == ["e4"]
    ran = ("agent.tool_result", {"tool_use_id": "e4", "content": []})
    step = next_step(log(*items, ran))
    assert isinstance(step, Refuse) and [c.event_id for c in step.calls] == ["e5"]
    refused = ("agent.tool_result", {"tool_use_id": "e5", "content": [], "is_error": True})
    step = next_step(log(*items, ran, refused))
    assert isinstance(step, Block) and step.event_ids == ("e6",)


def test_blocked_sessions_wait_and_partial_answers_reannounce() -> None:
    base = [
        msg("go"),
        RUN,
        START,
        ("agent.custom_tool_use", {"name": "a", "input": {}}),
        ("agent.custom_tool_use", {"name": "b", "input": {}}),
        END,
        ("session.status_idle", {"stop_reason": {"type": "requires_action", "event_ids": ["e4", "e5"]}}),
    ]
    assert isinstance(next_step(log(*base)), Done)
    partial = next_step(log(*base, ("user.custom_tool_result", {"custom_tool_use_id": "e4"})))
    assert isinstance(partial, Block) and partial.event_ids == ("e5",) and partial.prelude == ()
    both = [
        ("user.custom_tool_result", {"custom_tool_use_id": "e4"}),
        ("user.custom_tool_result", {"custom_tool_use_id": "e5"}),
    ]
    resumed = next_step(log(*base, *both))
    assert isinstance(resumed, CallModel) and resumed.prelude == (RUNNING,)


def test_interrupts_come_first_and_are_handled_once() -> None:
    events = log(msg("go"), RUN, START, ("user.interrupt", {}))
    assert isinstance(next_step(events), HandleInterrupt)
    done = log(
        msg("go"),
        RUN,
        START,
        ("user.interrupt", {}),
        ("span.model_request_end", {"is_error": True}),
        ("session.status_idle", {"stop_reason": {"type": "end_turn"}}),
    )
    assert isinstance(next_step(done), Done)


def test_an_interrupt_before_a_block_still_ends_the_turn() -> None:
    blocked = ("session.status_idle", {"stop_reason": {"type": "requires_action", "event_ids": ["e4"]}})
    events = log(
        msg("go"),
        RUN,
        START,
        ("agent.custom_tool_use", {"name": "x", "input": {}}),
        END,
        ("user.interrupt", {}),
        blocked,
    )
    assert isinstance(next_step(events), HandleInterrupt)


def test_the_tool_round_limit() -> None:
    rounds = []
    for i in range(3):
        call = f"c{i}"
        rounds += [
            START,
            ("agent.tool_use", {"name": "bash", "input": {}, "evaluated_permission": "allow"}, call),
            END,
            ("agent.tool_result", {"tool_use_id": call, "content": []}),
        ]
    assert isinstance(next_step(log(msg("go"), RUN, *rounds), rounds=3), ToolLimit)
    assert isinstance(next_step(log(msg("go"), RUN, *rounds), rounds=4), CallModel)


def test_retries_exhausted_flushes_queued_messages() -> None:
    events = log(
        msg("go"),
        RUN,
        START,
        msg("queued"),
        ("span.model_request_end", {"is_error": True}),
        ("session.status_idle", {"stop_reason": {"type": "retries_exhausted"}}),
    )
    assert isinstance(next_step(events), Done)


# ---------------------------------------------------------------------------------------------- context


def test_results_come_first_and_late_messages_after_the_answer() -> None:
    events = log(
        msg("go"),
        START,
        msg("steer"),  # arrived while the model was answering
        said("calling"),
        ("agent.tool_use", {"name": "bash", "input": {"command": "ls"}, "evaluated_permission": "allow"}),
        END,
        msg("more"),  # arrived while the tool ran
        ("agent.tool_result", {"tool_use_id": "e5", "content": [{"type": "text", "text": "a.txt"}]}),
    )
    assert build_messages(events) == [
        Message("user", [Text("go")]),
        Message("assistant", [Text("calling"), ToolUse("e5", "bash", {"command": "ls"})]),
        Message("user", [ToolOutput("e5", [Text("a.txt")], False), Text("steer"), Text("more")]),
    ]


def test_unanswered_calls_get_a_synthetic_error() -> None:
    events = log(
        msg("go"),
        START,
        ("agent.custom_tool_use", {"name": "x", "input": {}}),
        END,
        ("session.status_idle", {"stop_reason": {"type": "end_turn"}}),
        msg("next"),
    )
    messages = build_messages(events)
    assert messages[2] == Message("user", [ToolOutput("e3", [Text(MISSING_RESULT)], True), Text("next")])


def test_a_compaction_is_a_view() -> None:
    events = log(msg("old"), START, said("old answer"), END, msg("new"))
    view = build_messages(events, Compaction("S", through_seq=4, seq=6))
    assert view == [Message("user", [Text(SUMMARY_PREAMBLE + "S"), Text("new")])]
    assert len(build_messages(events)) == 3


def test_cut_points_never_split_a_call_and_keep_the_newest_input() -> None:
    events = log(
        msg("one"),
        START,
        ("agent.tool_use", {"name": "bash", "input": {}}),
        END,
        msg("during the call"),
        ("agent.tool_result", {"tool_use_id": "e3"}),
        START,
        said("two"),
        END,
        msg("three"),
        START,
        said("four"),
        END,
    )
    assert compaction.cut_points(events, 0) == [2, 7, 10]
    assert compaction.cut_points(events, 6) == [10]

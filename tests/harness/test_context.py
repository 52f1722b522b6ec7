"""The pure parts of the harness beside the fold and the decision (``test_log``, ``test_decide``): the context
view the model is sent, and compaction planning."""

from __future__ import annotations

from corral.harness import compaction
from corral.harness.context import MISSING_RESULT, SUMMARY_PREAMBLE, Compaction, build_messages
from corral.harness.models.content import Message, Text, ToolOutput, ToolUse
from tests.harness.logs import END, START, custom_use, idle, log, msg, said


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
        custom_use("x"),
        END,
        idle("end_turn"),
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

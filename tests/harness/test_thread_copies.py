"""A coordinator's log holds copies of its threads' calls (cross-posted, api.md §17): its own turn never reads them.
The fold opens no call for a copy nor for the session's answer to it, and the model's context shows neither."""

from __future__ import annotations

from corral.harness.context import build_messages
from corral.harness.models.content import ToolUse
from tests.harness.logs import END, RUN, START, confirm, fold, log, msg, tool_use


def test_cross_posted_calls_are_not_the_coordinators() -> None:
    events = log(
        msg("go"),
        RUN,
        START,
        tool_use("delegate", "allow", "d1"),
        END,
        tool_use("bash", "ask", "c1", session_thread_id="sthr_x"),
        confirm("c1", "allow"),
    )
    state = fold(events)
    assert [call.event_id for call in state.open_calls()] == ["d1"]
    assert state.awaiting() == []
    uses = [block.id for message in build_messages(events) for block in message.content if isinstance(block, ToolUse)]
    assert uses == ["d1"]

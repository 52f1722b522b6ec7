"""``decide``: each row is a log prefix and the one step the harness must take next (the priorities and the
``prelude`` rules of ``corral.harness.decide``), so a change to the decision shows up as a changed row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never, get_args

import pytest

from corral.harness.decide import (
    Block,
    CallModel,
    CloseSpan,
    Done,
    EndTurn,
    Execute,
    Grade,
    HandleInterrupt,
    Refuse,
    Step,
    ToolLimit,
    decide,
)
from corral.session import Event, EventType
from tests.harness.logs import (
    COMPACTING,
    END,
    FAILED,
    INTERRUPT,
    RESCHEDULED,
    RUN,
    START,
    Item,
    confirm,
    custom_result,
    custom_use,
    end,
    error,
    fold,
    idle,
    log,
    msg,
    result,
    said,
    stamped,
    tool_use,
)

Shape = tuple[str, object, tuple[EventType, ...]]
"""A step as a table can state it: its kind, what it is about, the types of its prelude."""

R: tuple[EventType, ...] = ("session.status_running",)
RR: tuple[EventType, ...] = ("session.status_rescheduled", "session.status_running")
END_TURN = ({"type": "end_turn"}, None)


def shape(step: Step) -> Shape:
    detail: object
    match step:
        case Execute() | Refuse():
            detail = tuple(call.event_id for call in step.calls)
        case Block():
            detail = step.event_ids
        case HandleInterrupt():
            detail = step.interrupt_id
        case EndTurn():
            detail = (step.stop_reason, step.stop_details)
        case Done() | CloseSpan() | ToolLimit() | CallModel() | Grade():
            detail = None
        case _:
            assert_never(step)
    return type(step).__name__, detail, tuple(event.type for event in step.prelude)


@dataclass(frozen=True)
class Case:
    name: str
    events: list[Event]
    expected: Shape
    resuming: bool = False
    max_tool_rounds: int = 10


def rounds(count: int) -> list[Item]:
    """``count`` tool rounds: a request whose answer calls an allowed tool, and the tool's result."""
    out: list[Item] = []
    for index in range(count):
        call = f"c{index}"
        out += [START, tool_use("bash", event_id=call), end("tool_use"), result(call)]
    return out


CALLS: list[Item] = [msg("go"), RUN, START, tool_use("bash"), tool_use("nope", "deny"), custom_use("mine"), END]
BLOCKED: list[Item] = [
    msg("go"),
    RUN,
    START,
    custom_use("a"),
    custom_use("b"),
    END,
    idle("requires_action", "e4", "e5"),
]
ASKED: list[Item] = [msg("go"), RUN, START, tool_use("bash", "ask"), end("tool_use"), idle("requires_action", "e4")]
EXHAUSTED: list[Item] = [msg("go"), RUN, START, msg("queued"), FAILED, idle("retries_exhausted")]
RETRYING: list[Item] = [msg("go"), RUN, START, FAILED, error(), RESCHEDULED]
COMPACTED = ("agent.thread_context_compacted", {"summary": "S", "through_seq": 2})
RUBRIC = {"type": "text", "content": "- has x"}
DEFINE: Item = (
    "user.define_outcome",
    {"outcome_id": "outc_1", "description": "x", "rubric": RUBRIC, "max_iterations": 3},
)
WORKED: list[Item] = [DEFINE, RUN, START, said("done"), END]
EVALUATING: Item = ("span.outcome_evaluation_start", {"outcome_id": "outc_1", "iteration": 0})


def verdict(result: str) -> Item:
    data = {"outcome_id": "outc_1", "iteration": 0, "outcome_evaluation_start_id": "e6", "result": result}
    return ("span.outcome_evaluation_end", {**data, "explanation": "why", "usage": {}})


CASES = [
    Case("an empty log: nothing to do", log(), ("Done", None, ())),
    Case(
        "a terminated session does nothing, whatever is queued",
        log(msg("hi"), ("session.status_terminated", {}), msg("late"), INTERRUPT),
        ("Done", None, ()),
    ),
    # starting a turn
    Case("new input starts a turn", log(msg("hi")), ("CallModel", None, R)),
    Case(
        "input after a finished turn starts the next",
        log(msg("hi"), RUN, START, said("yo"), END, idle("end_turn"), msg("again")),
        ("CallModel", None, R),
    ),
    Case("a session created running is no takeover", log(msg("hi"), RUN), ("CallModel", None, ()), resuming=True),
    # ending a turn
    Case("a final answer ends the turn", log(msg("hi"), RUN, START, said("yo"), END), ("EndTurn", END_TURN, ())),
    Case(
        "a refusal ends the turn with its details",
        log(msg("hi"), RUN, START, end("refusal")),
        ("EndTurn", ({"type": "refusal"}, {"type": "refusal", "category": None, "explanation": None}), ()),
    ),
    Case(
        "a message that arrived during the request is taken up",
        log(msg("hi"), RUN, START, msg("also"), said("yo"), END),
        ("CallModel", None, ()),
    ),
    Case(
        "a message queued before a compaction is still new input",
        log(msg("hi"), RUN, START, said("yo"), END, msg("also"), COMPACTING, COMPACTED, END),
        ("CallModel", None, ()),
    ),
    # open spans and takeovers
    Case(
        "a worker taking over closes the open span first",
        log(msg("hi"), RUN, START),
        ("CloseSpan", None, RR),
        resuming=True,
    ),
    Case("the worker's own open span is closed quietly", log(msg("hi"), RUN, START), ("CloseSpan", None, ())),
    Case(
        "a takeover after output announces itself",
        log(msg("go"), RUN, START, tool_use("bash"), end("tool_use")),
        ("Execute", ("e4",), RR),
        resuming=True,
    ),
    Case("a failed request is retried", log(*RETRYING), ("CallModel", None, R)),
    Case("a takeover during a retry announces itself", log(*RETRYING), ("CallModel", None, RR), resuming=True),
    # tool calls: run, refuse, block
    Case("allowed calls run first", log(*CALLS), ("Execute", ("e4",), ())),
    Case("then refused calls are answered", log(*CALLS, result("e4")), ("Refuse", ("e5",), ())),
    Case(
        "then the client's calls block the turn",
        log(*CALLS, result("e4"), result("e5", is_error=True)),
        ("Block", ("e6",), ()),
    ),
    Case(
        "a call that asks blocks until confirmed",
        log(msg("go"), RUN, START, tool_use("bash", "ask"), end("tool_use")),
        ("Block", ("e4",), ()),
    ),
    Case("a confirmed call runs", log(*ASKED, confirm("e4", "allow")), ("Execute", ("e4",), R)),
    Case("a denied call is answered", log(*ASKED, confirm("e4", "deny", "no")), ("Refuse", ("e4",), R)),
    Case(
        "a call the client's worker runs blocks the turn",
        log(msg("go"), RUN, START, tool_use("bash", executor="client"), end("tool_use")),
        ("Block", ("e4",), ()),
    ),
    # blocked sessions
    Case("a blocked session waits", log(*BLOCKED), ("Done", None, ())),
    Case("a partial answer re-announces the rest", log(*BLOCKED, custom_result("e4")), ("Block", ("e5",), ())),
    Case(
        "every answer resumes the turn",
        log(*BLOCKED, custom_result("e4"), custom_result("e5")),
        ("CallModel", None, R),
    ),
    # interrupts
    Case("an interrupt comes first, mid-request", log(msg("go"), RUN, START, INTERRUPT), ("HandleInterrupt", "e4", ())),
    Case(
        "an interrupt comes first, also for a worker taking over",
        log(msg("go"), RUN, START, INTERRUPT),
        ("HandleInterrupt", "e4", ()),
        resuming=True,
    ),
    Case(
        "an interrupt before a block still ends the turn",
        log(msg("go"), RUN, START, custom_use("x"), END, INTERRUPT, idle("requires_action", "e4")),
        ("HandleInterrupt", "e6", ()),
    ),
    Case(
        "an interrupt to an idle session is handled",
        log(msg("go"), RUN, START, said("yo"), END, idle("end_turn"), INTERRUPT),
        ("HandleInterrupt", "e7", ()),
    ),
    Case(
        "an interrupt is handled once: the idle event after it ends it",
        log(msg("go"), RUN, START, INTERRUPT, FAILED, idle("end_turn")),
        ("Done", None, ()),
    ),
    Case(
        "a stamped interrupt is handled already",
        stamped(log(msg("go"), RUN, START, INTERRUPT), "e4"),
        ("CloseSpan", None, ()),
    ),
    # limits
    Case(
        "the tool-round limit stops the turn",
        log(msg("go"), RUN, *rounds(3)),
        ("ToolLimit", None, ()),
        max_tool_rounds=3,
    ),
    Case(
        "below the limit the model is asked",
        log(msg("go"), RUN, *rounds(3)),
        ("CallModel", None, ()),
        max_tool_rounds=4,
    ),
    Case(
        "a new turn's rounds start from zero",
        log(msg("go"), RUN, *rounds(3), START, said("done"), END, idle("end_turn"), msg("next")),
        ("CallModel", None, R),
        max_tool_rounds=3,
    ),
    Case(
        "a new turn's rounds start from zero, once running",
        log(msg("go"), RUN, *rounds(3), START, said("done"), END, idle("end_turn"), msg("next"), RUN),
        ("CallModel", None, ()),
        max_tool_rounds=3,
    ),
    Case("retries exhausted flush queued messages", log(*EXHAUSTED), ("Done", None, ())),
    # outcomes
    Case("an outcome starts a turn (no message needed)", log(DEFINE), ("CallModel", None, R)),
    Case("the agent's final answer on an outcome is graded", log(*WORKED), ("Grade", None, ())),
    Case(
        "a verdict asking for revision is the next input",
        log(*WORKED, EVALUATING, verdict("needs_revision")),
        ("CallModel", None, ()),
    ),
    Case(
        "the last verdict gets one acknowledgement",
        log(*WORKED, EVALUATING, verdict("max_iterations_reached")),
        ("CallModel", None, ()),
    ),
    Case(
        "a satisfied outcome ends the turn", log(*WORKED, EVALUATING, verdict("satisfied")), ("EndTurn", END_TURN, ())
    ),
    Case("a takeover mid-evaluation grades again", log(*WORKED, EVALUATING), ("Grade", None, RR), resuming=True),
    Case("a message after retries exhausted starts a turn", log(*EXHAUSTED, msg("again")), ("CallModel", None, R)),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_decide(case: Case) -> None:
    step = decide(fold(case.events), resuming=case.resuming, max_tool_rounds=case.max_tool_rounds)
    assert shape(step) == case.expected


def test_the_table_reaches_every_step() -> None:
    assert {case.expected[0] for case in CASES} == {kind.__name__ for kind in get_args(Step)}

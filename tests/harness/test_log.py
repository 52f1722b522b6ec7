"""The log fold (``TurnState.apply``): each row is a log and what the fold must say about it (status, open span,
calls, pending input, interrupts, errors and tool rounds in a row), per the invariants of ``corral.harness.log``.

A row states only the readings it is about; ``reading`` lists every reading a row may state."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from corral.harness.context import Compaction
from corral.harness.log import Call, Response, SessionLog, TurnState
from corral.session import Event
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


def disposition(call: Call) -> str:
    if call.resolved:
        return "resolved"
    if call.runnable:
        return "runnable"
    if call.refused:
        return "refused"
    return "awaiting" if call.awaiting_client else "open"


def reading(state: TurnState) -> dict[str, object]:
    return {
        "status": state.status,
        "turn_open": state.turn_open,
        "open_span": None if state.open_span is None else state.open_span.id,
        "calls": {c.event_id: (c.permission, disposition(c), c.deny_message) for c in state.calls.values()},
        "awaiting": state.awaiting(),
        "last_response": state.last_response,
        "pending": state.pending_messages(),
        "interrupt": state.unhandled_interrupt(),
        "unstamped": sorted(state.unstamped),
        "errors_in_row": state.errors_in_row,
        "tool_rounds": state.tool_rounds,
        "compactions_in_row": state.compactions_in_row,
        "compaction": state.compaction,
        "output_since_running": state.output_since_running,
    }


@dataclass(frozen=True)
class Case:
    name: str
    events: list[Event]
    expected: dict[str, object]


def rounds(count: int) -> list[Item]:
    out: list[Item] = []
    for index in range(count):
        call = f"c{index}"
        out += [START, tool_use("bash", event_id=call), end("tool_use"), result(call)]
    return out


CALLS: list[Item] = [
    msg("go"),
    RUN,
    START,
    tool_use("bash"),
    tool_use("nope", "deny"),
    tool_use("read", "ask"),
    custom_use("mine"),
    tool_use("grep", executor="client"),
    end("tool_use"),
]
ASKED: list[Item] = [msg("go"), RUN, START, tool_use("bash", "ask"), end("tool_use"), idle("requires_action", "e4")]
EXHAUSTED: list[Item] = [msg("go"), RUN, START, msg("queued"), FAILED, idle("retries_exhausted")]
RETRYING: list[Item] = [msg("go"), RUN, START, FAILED, error(), RESCHEDULED]
INTERRUPTED: list[Item] = [*RETRYING, INTERRUPT, idle("end_turn")]
COMPACTED: Item = ("agent.thread_context_compacted", {"summary": "S", "through_seq": 2})
SUMMARISED: list[Item] = [msg("hi"), RUN, START, said("yo"), END, msg("more"), COMPACTING, COMPACTED, END]

CASES = [
    Case(
        "an empty log",
        log(),
        {"status": None, "turn_open": False, "open_span": None, "calls": {}, "pending": [], "interrupt": None},
    ),
    # input and status
    Case("a message is new input", log(msg("hi")), {"pending": ["e1"], "unstamped": ["e1"], "turn_open": False}),
    Case(
        "running opens the turn",
        log(msg("hi"), RUN),
        {"status": "running", "turn_open": True, "pending": ["e1"], "output_since_running": False},
    ),
    Case(
        "a request takes up the input before it",
        log(msg("hi"), RUN, START),
        {"open_span": "e3", "pending": [], "output_since_running": True},
    ),
    Case("input during a request stays new", log(msg("hi"), RUN, START, msg("also")), {"pending": ["e4"]}),
    Case(
        "the span's end closes it and records the answer",
        log(msg("hi"), RUN, START, said("yo"), END),
        {"open_span": None, "last_response": Response("end_turn", 0), "tool_rounds": 0},
    ),
    Case(
        "rescheduled keeps the turn open",
        log(msg("hi"), RUN, RESCHEDULED),
        {"status": "rescheduling", "turn_open": True},
    ),
    Case(
        "terminated closes everything",
        log(msg("hi"), RUN, ("session.status_terminated", {})),
        {"status": "terminated", "turn_open": False},
    ),
    Case(
        "an idle that ends the turn forgets its calls and answer",
        log(msg("go"), RUN, *rounds(1), START, said("done"), END, idle("end_turn")),
        {"status": "idle", "turn_open": False, "calls": {}, "last_response": None},
    ),
    # calls
    Case(
        "calls are recorded with their verdicts",
        log(*CALLS),
        {
            "calls": {
                "e4": ("allow", "runnable", None),
                "e5": ("deny", "refused", None),
                "e6": ("ask", "awaiting", None),
                "e7": (None, "awaiting", None),
                "e8": ("allow", "awaiting", None),
            },
            "awaiting": ["e6", "e7", "e8"],
            "last_response": Response("tool_use", 5),
            "tool_rounds": 1,
        },
    ),
    Case(
        "results resolve their calls",
        log(*CALLS, result("e4"), result("e5", is_error=True), custom_result("e7")),
        {
            "calls": {
                "e4": ("allow", "resolved", None),
                "e5": ("deny", "resolved", None),
                "e6": ("ask", "awaiting", None),
                "e7": (None, "resolved", None),
                "e8": ("allow", "awaiting", None),
            },
            "awaiting": ["e6", "e8"],
        },
    ),
    Case("a result for no known call changes nothing", log(msg("go"), RUN, START, END, result("e9")), {"calls": {}}),
    Case(
        "requires_action keeps the turn's calls",
        log(*ASKED),
        {"status": "idle", "turn_open": False, "calls": {"e4": ("ask", "awaiting", None)}},
    ),
    Case(
        "an allowed confirmation makes a call runnable",
        log(*ASKED, confirm("e4", "allow")),
        {"calls": {"e4": ("ask", "runnable", None)}},
    ),
    Case(
        "a denied confirmation refuses a call, with its message",
        log(*ASKED, confirm("e4", "deny", "not here")),
        {"calls": {"e4": ("ask", "refused", "not here")}, "awaiting": []},
    ),
    # interrupts and the input boundary
    Case(
        "an interrupt flushes the input queued before it",
        log(msg("hi"), RUN, START, msg("queued"), INTERRUPT),
        {"pending": [], "interrupt": "e5"},
    ),
    Case(
        "an interrupt stays unhandled through a block",
        log(msg("go"), RUN, START, custom_use("x"), END, INTERRUPT, idle("requires_action", "e4")),
        {"interrupt": "e6"},
    ),
    Case(
        "an idle that ends the turn after an interrupt handles it",
        log(msg("go"), RUN, START, INTERRUPT, FAILED, idle("end_turn")),
        {"interrupt": None},
    ),
    Case(
        "a stamped interrupt is handled",
        stamped(log(msg("go"), RUN, START, INTERRUPT), "e4"),
        {"interrupt": None, "unstamped": ["e1"]},
    ),
    Case("retries exhausted flush the queue", log(*EXHAUSTED), {"pending": [], "status": "idle"}),
    Case("input after retries exhausted is new", log(*EXHAUSTED, msg("again")), {"pending": ["e7"]}),
    # errors in a row
    Case(
        "retrying errors count in a row",
        log(*RETRYING, RUN, START, FAILED, error(), RESCHEDULED),
        {"errors_in_row": 2, "status": "rescheduling"},
    ),
    Case(
        "an exhausted error is not counted",
        log(msg("go"), RUN, START, FAILED, error("exhausted"), idle("retries_exhausted")),
        {"errors_in_row": 0},
    ),
    Case(
        "an error that is not the model's is not counted",
        log(msg("go"), RUN, START, said("ok"), END, error(kind="unknown_error")),
        {"errors_in_row": 0},
    ),
    Case("an answer resets the count", log(*RETRYING, RUN, START, said("ok"), END), {"errors_in_row": 0}),
    Case("the count outlives the turn's end", log(*INTERRUPTED), {"errors_in_row": 1}),
    Case("a new turn resets the count", log(*INTERRUPTED, msg("next"), RUN), {"errors_in_row": 0}),
    # tool rounds and compactions
    Case("answers that call tools are rounds", log(msg("go"), RUN, *rounds(2)), {"tool_rounds": 2}),
    Case(
        "a failed request is no round",
        log(msg("go"), RUN, *rounds(1), START, FAILED),
        {"tool_rounds": 1, "last_response": Response("tool_use", 1)},
    ),
    Case(
        "a turn that continues after requires_action keeps its rounds",
        log(
            msg("go"),
            RUN,
            START,
            custom_use("x"),
            end("tool_use"),
            idle("requires_action", "e4"),
            custom_result("e4"),
            RUN,
        ),
        {"tool_rounds": 1, "status": "running"},
    ),
    Case(
        "a new turn's rounds start from zero",
        log(msg("go"), RUN, *rounds(2), START, said("done"), END, idle("end_turn"), msg("next"), RUN),
        {"tool_rounds": 0},
    ),
    Case(
        "a summarising request takes up no input and is no answer",
        log(*SUMMARISED),
        {
            "pending": ["e6"],
            "compaction": Compaction("S", through_seq=2, seq=8),
            "compactions_in_row": 1,
            "last_response": Response("end_turn", 0),
            "tool_rounds": 0,
        },
    ),
    Case(
        "an answer resets the compactions in a row", log(*SUMMARISED, START, said("ok"), END), {"compactions_in_row": 0}
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_fold(case: Case) -> None:
    readings = reading(fold(case.events))
    assert {key: readings[key] for key in case.expected} == case.expected


def test_rows_state_known_readings() -> None:
    known = set(reading(TurnState()))
    assert all(set(case.expected) <= known for case in CASES)


def test_the_session_log_applies_each_event_once_in_order() -> None:
    events = log(msg("hi"), RUN, START, said("yo"), END)
    replayed = SessionLog("sesn_x", [*events[:3], *events[1:]])
    assert replayed.events == events and replayed.last_seq == 5
    assert reading(replayed.state) == reading(fold(events))


def test_the_session_log_refuses_a_gap() -> None:
    events = log(msg("hi"), RUN, START)
    with pytest.raises(ValueError, match="gap"):
        SessionLog("sesn_x", [events[0], events[2]])

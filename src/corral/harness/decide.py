"""The harness's one decision: given what the log says (``TurnState``), what is the next step?

``decide`` is pure. The runner performs the step (which appends events), folds them, and asks again,
until the answer is ``Done``. Because the decision depends on the log only, a worker that takes a session
over after a crash makes the same decisions the dead worker would have made: recovery is continuation.

Priorities, highest first: a pending ``user.interrupt``; closing a model request left open by a dead
worker; a blocked idle session (wait, or re-announce what is still awaited); starting a turn for new
input; then, inside a turn: run allowed calls, answer refused ones, block on the client, end the turn
after a final answer, stop at the tool-round limit, else ask the model.

``prelude`` carries status events written in the same append as the step's first events:
``session.status_running`` when work starts or resumes, preceded by ``session.status_rescheduled`` when
this worker continues a turn another worker left unfinished.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corral._types import JSONObject
from corral.harness.log import Call, Response, TurnState
from corral.session import NewEvent
from corral.vocab.events import StopReason


@dataclass(frozen=True)
class _Step:
    prelude: tuple[NewEvent, ...] = field(default=(), kw_only=True)


@dataclass(frozen=True)
class Done(_Step):
    pass


@dataclass(frozen=True)
class HandleInterrupt(_Step):
    interrupt_id: str


@dataclass(frozen=True)
class CloseSpan(_Step):
    pass


@dataclass(frozen=True)
class Execute(_Step):
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Refuse(_Step):
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Block(_Step):
    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class EndTurn(_Step):
    stop_reason: StopReason
    stop_details: JSONObject | None = None


@dataclass(frozen=True)
class ToolLimit(_Step):
    pass


@dataclass(frozen=True)
class CallModel(_Step):
    pass


@dataclass(frozen=True)
class Grade(_Step):
    """The agent ended its work on the active outcome: the grader scores it (``corral.harness.grader``)."""


Step = Done | HandleInterrupt | CloseSpan | Execute | Refuse | Block | EndTurn | ToolLimit | CallModel | Grade
"""Every step a turn can take: a closed union, performed by ``Turn`` with an exhaustive ``match``."""


RUNNING = NewEvent("session.status_running")
RESCHEDULED = NewEvent("session.status_rescheduled")


def decide(state: TurnState, *, resuming: bool, max_tool_rounds: int) -> Step:
    """The next step. ``resuming``: this worker has not written anything for the session yet."""
    if state.status == "terminated":
        return Done()
    interrupt = state.unhandled_interrupt()
    if interrupt is not None:
        return HandleInterrupt(interrupt)
    if not state.turn_open:
        return _from_idle(state, max_tool_rounds)
    prelude = _resume_prelude(state, resuming)
    if state.open_span is not None:
        return CloseSpan(prelude=prelude)
    return _in_turn(state, prelude, max_tool_rounds)


def _resume_prelude(state: TurnState, resuming: bool) -> tuple[NewEvent, ...]:
    if resuming and state.output_since_running:
        return (RESCHEDULED, RUNNING)
    if state.status == "rescheduling":
        return (RUNNING,)
    return ()


def _from_idle(state: TurnState, max_tool_rounds: int) -> Step:
    stop = state.idle_stop
    if stop is not None and stop["type"] == "requires_action":
        awaiting = tuple(state.awaiting())
        if awaiting:
            same = tuple(stop.get("event_ids") or ()) == awaiting
            return Done() if same else Block(awaiting)
        return _in_turn(state, (RUNNING,), max_tool_rounds)
    if state.pending_messages():  # a new turn: the previous turn's tool rounds no longer count
        return _in_turn(state, (RUNNING,), None)
    return Done()


def _in_turn(state: TurnState, prelude: tuple[NewEvent, ...], max_tool_rounds: int | None) -> Step:
    calls = state.open_calls()
    runnable = tuple(call for call in calls if call.runnable)
    if runnable:
        return Execute(runnable, prelude=prelude)
    refused = tuple(call for call in calls if call.refused)
    if refused:
        return Refuse(refused, prelude=prelude)
    awaiting = tuple(state.awaiting())
    if awaiting:
        return Block(awaiting, prelude=prelude)
    response = state.last_response
    if response is not None and not response.tool_calls and not state.pending_messages():
        return Grade(prelude=prelude) if state.outcome.wants_grading() else _end(response, prelude)
    if max_tool_rounds is not None and state.tool_rounds >= max_tool_rounds:
        return ToolLimit(prelude=prelude)
    return CallModel(prelude=prelude)


def _end(response: Response, prelude: tuple[NewEvent, ...]) -> Step:
    if response.stop_reason == "refusal":
        return EndTurn({"type": "refusal"}, {"type": "refusal", "category": None, "explanation": None}, prelude=prelude)
    return EndTurn({"type": "end_turn"}, prelude=prelude)

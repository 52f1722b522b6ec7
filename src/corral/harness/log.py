"""What the log says about the current turn: a fold over the session's events, in ``seq`` order.

The harness keeps no other state. A worker that wakes a session replays the log through ``TurnState``
and knows exactly as much as the worker that wrote it, which is what makes crash recovery a plain
continuation. (A worker may continue the log its own last clean wake kept, ``corral.harness.warm``: a cache of
that replay, never a second truth.)

Invariants:

* ``TurnState.apply`` is a pure function of the events applied so far; ``SessionLog`` applies every event
  of the session exactly once, in ``seq`` order, without gaps (missing positions are read from the store).
* A ``user.message`` counts as new input while it lies after the last ``span.model_request_start`` (the
  model has not seen it) and after the input boundary (the last ``user.interrupt``, or the idle event
  that closed a turn with ``retries_exhausted``: those flush the queue; the messages stay in the log and
  in later contexts).
* A log a wake kept (``corral.harness.warm``) is continued only through ``rejoin``: rows never change but for
  ``processed_at`` (null → a stamp, once), so re-reading the held rows still null and checking the last one held
  makes the held events the stored ones, and their fold the fold a fresh read would make.
* ``processed_at`` is a stamp for clients, never a decision input, except for ``user.interrupt``: an
  interrupt after the last idle event that ended a turn and not yet stamped is still to be handled (so the
  harness stamps an interrupt only once it has handled it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import takewhile
from typing import Literal, cast

from corral._types import JSONObject
from corral.harness.context import Compaction
from corral.harness.context_cache import ContextCache
from corral.harness.outcomes import OutcomeFold
from corral.harness.thread_events import cross_posted
from corral.session import CLIENT_EVENT_TYPES, Event, EventType, SessionStore
from corral.vocab.events import (
    MODEL_ERROR_TYPES,
    TOOL_RESULT_TYPES,
    TOOL_USE_TYPES,
    CompactedData,
    SessionErrorData,
    SessionStatus,
    SpanEndData,
    SpanStartData,
    StatusIdleData,
    StopReason,
    ToolConfirmationData,
    ToolUseData,
    ToolUseEventType,
    answered_call,
)
from corral.vocab.tools import Permission, is_sandbox_tool

_HARNESS_OUTPUT: frozenset[EventType] = frozenset(
    (
        *TOOL_USE_TYPES,
        "agent.message",
        "agent.thinking",
        "agent.tool_result",
        "agent.mcp_tool_result",
        "agent.thread_context_compacted",
        "span.model_request_start",
        "span.model_request_end",
        "session.error",
        "session.status_rescheduled",
    )
)


@dataclass
class Call:
    """A tool call of the current turn, as far as the log has resolved it."""

    event_id: str
    type: ToolUseEventType
    name: str
    input: JSONObject
    permission: Permission | None
    #: ``client``: a built-in call of a ``self_hosted`` environment, run by the customer's worker
    executor: Literal["client"] | None = None
    #: the MCP server an ``agent.mcp_tool_use`` calls
    mcp_server_name: str | None = None
    confirmation: Literal["allow", "deny"] | None = None
    deny_message: str | None = None
    resolved: bool = False

    @property
    def awaiting_client(self) -> bool:
        if self.resolved or self.refused:
            return False
        asking = self.permission == "ask" and self.confirmation is None
        return self.type == "agent.custom_tool_use" or asking or self.executor == "client"

    @property
    def runnable(self) -> bool:
        allowed = self.permission == "allow" or (self.permission == "ask" and self.confirmation == "allow")
        here = self.type != "agent.custom_tool_use" and self.executor != "client"
        return not self.resolved and here and allowed

    @property
    def refused(self) -> bool:
        return not self.resolved and (self.permission == "deny" or self.confirmation == "deny")


@dataclass(frozen=True)
class Response:
    """The last model response of the turn: why it stopped, and how many tool calls it made."""

    stop_reason: str | None
    tool_calls: int


@dataclass
class TurnState:
    last_seq: int = 0
    status: SessionStatus | None = None
    idle_stop: StopReason | None = None
    #: position of the last idle event that ended a turn (any stop reason but ``requires_action``)
    turn_end_seq: int = 0
    output_since_running: bool = False
    open_span: Event | None = None
    span_purpose: str | None = None
    span_start_seq: int = 0
    span_calls: int = 0
    calls: dict[str, Call] = field(default_factory=lambda: dict[str, Call]())
    last_response: Response | None = None
    boundary_seq: int = 0
    messages: list[tuple[int, str]] = field(default_factory=lambda: list[tuple[int, str]]())
    interrupts: list[tuple[int, str]] = field(default_factory=lambda: list[tuple[int, str]]())
    unstamped: dict[str, EventType] = field(default_factory=lambda: dict[str, EventType]())
    errors_in_row: int = 0
    tool_rounds: int = 0
    compactions_in_row: int = 0
    #: a sandbox tool has run here for this session (its workspace exists somewhere and must be found again)
    workspace_used: bool = False
    compaction: Compaction | None = None
    outcome: OutcomeFold = field(default_factory=OutcomeFold)

    # ------------------------------------------------------------------ folding

    def apply(self, event: Event) -> None:
        self.last_seq = event.seq
        if event.type in CLIENT_EVENT_TYPES and event.processed_at is None:
            self.unstamped[event.id] = event.type
        if event.type in _HARNESS_OUTPUT:
            self.output_since_running = True
        handler = _HANDLERS.get(event.type)
        if handler is not None and not cross_posted(event):  # another thread's call, answered there
            handler(self, event, event.data())
        if self.outcome.apply(event):  # an outcome to work on, or a verdict to answer: input, like a message
            self.messages.append((event.seq, event.id))

    def on_running(self, event: Event, data: JSONObject) -> None:
        continuing = self.turn_open or _stop_type(self.idle_stop) == "requires_action"
        if not continuing:
            self.tool_rounds = self.errors_in_row = self.compactions_in_row = 0
        self.status = "running"
        self.output_since_running = False

    def on_idle(self, event: Event, data: JSONObject) -> None:
        self.status = "idle"
        self.idle_stop = cast(StatusIdleData, data)["stop_reason"]
        if _stop_type(self.idle_stop) != "requires_action":
            self.turn_end_seq = event.seq
            self.calls.clear()
            self.last_response = None
        if _stop_type(self.idle_stop) == "retries_exhausted":
            self.boundary_seq = max(self.boundary_seq, event.seq)

    def on_span_start(self, event: Event, data: JSONObject) -> None:
        self.open_span = event
        self.span_purpose = cast(SpanStartData, data).get("purpose")
        self.span_calls = 0
        if self.span_purpose != "compaction":  # a summarising request does not take up new input
            self.span_start_seq = event.seq

    def on_span_end(self, event: Event, data: JSONObject) -> None:
        end = cast(SpanEndData, data)
        self.open_span = None
        if end["is_error"] or self.span_purpose == "compaction":
            return
        self.last_response = Response(end.get("stop_reason"), self.span_calls)
        self.errors_in_row = self.compactions_in_row = 0
        if self.span_calls:
            self.tool_rounds += 1

    def on_tool_use(self, event: Event, data: JSONObject) -> None:
        use = cast(ToolUseData, data)
        kind = cast(ToolUseEventType, event.type)
        permission, executor = use.get("evaluated_permission"), use.get("executor")
        call = Call(event.id, kind, use["name"], dict(use["input"]), permission, executor, use.get("mcp_server_name"))
        self.calls[event.id] = call
        self.span_calls += 1

    def on_result(self, event: Event, data: JSONObject) -> None:
        call = self.calls.get(str(answered_call(event.type, data)))
        if call is not None:
            call.resolved = True
            if event.type == "agent.tool_result" and is_sandbox_tool(call.name) and call.executor is None:
                self.workspace_used = True

    def on_confirmation(self, event: Event, data: JSONObject) -> None:
        confirmation = cast(ToolConfirmationData, data)
        call = self.calls.get(confirmation["tool_use_id"])
        if call is not None:
            call.confirmation = confirmation["result"]
            call.deny_message = confirmation.get("deny_message")

    def on_error(self, event: Event, data: JSONObject) -> None:
        error = cast(SessionErrorData, data)["error"]
        if error["retry_status"]["type"] == "retrying" and error["type"] in MODEL_ERROR_TYPES:
            self.errors_in_row += 1

    def on_status(self, event: Event, data: JSONObject) -> None:
        self.status = "rescheduling" if event.type == "session.status_rescheduled" else "terminated"

    def on_message(self, event: Event, data: JSONObject) -> None:
        self.messages.append((event.seq, event.id))

    def on_interrupt(self, event: Event, data: JSONObject) -> None:
        self.interrupts.append((event.seq, event.id))
        self.boundary_seq = max(self.boundary_seq, event.seq)

    def on_compacted(self, event: Event, data: JSONObject) -> None:
        compacted = cast(CompactedData, data)
        self.compaction = Compaction(compacted["summary"], compacted["through_seq"], event.seq)
        self.compactions_in_row += 1

    # ------------------------------------------------------------------ reading

    @property
    def turn_open(self) -> bool:
        return self.status in ("running", "rescheduling")

    def pending_messages(self) -> list[str]:
        after = max(self.boundary_seq, self.span_start_seq)
        pending = list(takewhile(lambda message: message[0] > after, reversed(self.messages)))  # held in seq order
        return [event_id for _, event_id in reversed(pending)]

    def unhandled_interrupt(self) -> str | None:
        for seq, event_id in self.interrupts:
            if seq > self.turn_end_seq and event_id in self.unstamped:
                return event_id
        return None

    def open_calls(self) -> list[Call]:
        return [call for call in self.calls.values() if not call.resolved]

    def awaiting(self) -> list[str]:
        return [call.event_id for call in self.calls.values() if call.awaiting_client]


def _stop_type(stop: StopReason | None) -> str | None:
    return None if stop is None else stop["type"]


_Handler = Callable[[TurnState, Event, JSONObject], None]
_HANDLERS: dict[EventType, _Handler] = {
    "session.status_running": TurnState.on_running,
    "session.status_idle": TurnState.on_idle,
    "session.status_rescheduled": TurnState.on_status,
    "session.status_terminated": TurnState.on_status,
    "span.model_request_start": TurnState.on_span_start,
    "span.model_request_end": TurnState.on_span_end,
    "session.error": TurnState.on_error,
    "user.message": TurnState.on_message,
    "user.interrupt": TurnState.on_interrupt,
    "user.tool_confirmation": TurnState.on_confirmation,
    "agent.thread_context_compacted": TurnState.on_compacted,
    **dict.fromkeys(TOOL_USE_TYPES, TurnState.on_tool_use),
    **dict.fromkeys(TOOL_RESULT_TYPES, TurnState.on_result),
}


class SessionLog:
    """The session's events as this worker has read them (from position 1), and their fold."""

    def __init__(self, session_id: str, events: list[Event]):
        self.session_id = session_id
        self.events: list[Event] = []
        self.state = TurnState()
        #: events held with ``processed_at`` null, id → seq: the only rows that may have changed since (a stamp)
        self._queued: dict[str, int] = {}
        #: the model's context of these events, kept between requests (a cache of ``context.build_messages``)
        self.context = ContextCache()
        self._add(events)

    @property
    def last_seq(self) -> int:
        return self.state.last_seq

    def _add(self, events: list[Event]) -> None:
        for event in events:
            if event.seq <= self.last_seq:
                continue
            if event.seq != self.last_seq + 1:
                raise ValueError(f"gap in the log of {self.session_id}: {self.last_seq} then {event.seq}")
            self.events.append(event)
            if event.processed_at is None:
                self._queued[event.id] = event.seq
            self.state.apply(event)

    # ------------------------------------------------------------------ continued by a later wake (harness.warm)

    @property
    def reread_from(self) -> int:
        """Where a later wake continuing this log reads from: the first held event whose row may have been stamped
        since (its ``processed_at`` still null here), else the last one held (its id shows the log is this one)."""
        return next(iter(self._queued.values()), self.last_seq)

    def rejoin(self, events: list[Event]) -> bool:
        """Continue with the store's events from ``reread_from`` on: take the stamps of the rows held, apply the
        rest. False when they disagree with what is held (the log must then be dropped and read whole)."""
        held = [event for event in events if event.seq <= self.last_seq]
        if self.last_seq < 1 or len(held) != self.last_seq - self.reread_from + 1 or held[0].seq != self.reread_from:
            return False
        if not all(self._restamp(event) for event in held):
            return False
        self._add(events[len(held) :])
        return True

    def _restamp(self, row: Event) -> bool:
        """Take a stored row's ``processed_at`` in place of the one held, as a fresh read would have folded it."""
        mine = self.events[row.seq - 1]
        if replace(mine, processed_at=row.processed_at) != row:
            return False
        if row.processed_at is None:  # still queued: a fresh fold holds it as unstamped, and so must this one
            return mine.processed_at is None and (row.type in CLIENT_EVENT_TYPES) == (row.id in self.state.unstamped)
        self.events[row.seq - 1] = row
        self._queued.pop(row.id, None)
        self.state.unstamped.pop(row.id, None)
        return True

    async def catch_up(self, store: SessionStore, end: int | None = None) -> None:
        """Read and apply every event after ``last_seq`` (up to ``end``, exclusive)."""
        self._add(await store.get_events(self.session_id, self.last_seq + 1, end))

    async def extend(self, store: SessionStore, appended: list[Event]) -> None:
        """Apply events this worker just appended, first filling any gap other writers left before them."""
        if appended and appended[0].seq > self.last_seq + 1:
            await self.catch_up(store, appended[0].seq)
        self._add(appended)

    def stamped(self, event_ids: list[str]) -> None:
        for event_id in event_ids:
            self.state.unstamped.pop(event_id, None)

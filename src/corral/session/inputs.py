"""What a client may send, and when: checked inside the append transaction, against the projection.

Invariant: a batch is accepted whole or refused whole (nothing is written), and each event is checked
against the state that the events before it in the same batch produced.
"""

from __future__ import annotations

from corral.errors import Conflict, ErrorCode, InvalidRequest
from corral.session import spend
from corral.session.events import NewEvent
from corral.session.outcomes import check_define
from corral.session.records import SessionState

_FOLLOWABLE_BY_SYSTEM = ("user.message", "user.tool_result", "user.custom_tool_result")


def check_batch(events: list[NewEvent], *, self_hosted: bool = False) -> None:
    """Rules about the batch as a whole (independent of the session's state)."""
    systems = [i for i, event in enumerate(events) if event.type == "system.message"]
    if len(systems) > 1:
        raise InvalidRequest("at most one system.message per request", code=ErrorCode.INVALID_EVENT)
    if systems:
        index = systems[0]
        if index != len(events) - 1:
            raise InvalidRequest("system.message must be the last event of the request", code=ErrorCode.INVALID_EVENT)
        if index == 0 or events[index - 1].type not in _FOLLOWABLE_BY_SYSTEM:
            raise InvalidRequest(
                "system.message must immediately follow a user.message, user.tool_result or user.custom_tool_result",
                code=ErrorCode.INVALID_EVENT,
            )
    for event in events:
        if event.type == "user.tool_result" and not self_hosted:
            raise InvalidRequest(
                "user.tool_result is only valid on sessions in a self_hosted environment", code=ErrorCode.INVALID_EVENT
            )
    if sum(event.type == "user.define_outcome" for event in events) > 1:
        raise InvalidRequest(
            "at most one user.define_outcome per request (one outcome at a time)", code=ErrorCode.INVALID_EVENT
        )


def check_event(state: SessionState, archived: bool, event: NewEvent) -> None:
    """Refuse ``event`` if the session (as projected so far) cannot take it."""
    if archived or state.status == "terminated":
        raise Conflict(
            "session is archived or terminated and accepts no more events", code=ErrorCode.SESSION_TERMINATED
        )
    if event.type in ("user.message", "user.define_outcome") and _paused(state):
        raise InvalidRequest(
            "budget_reached: the session is paused at its budget and takes only tool confirmations, tool results"
            " and interrupts; raise or remove the budget (sessions.update) to resume",
            code=ErrorCode.BUDGET_REACHED,
            details={"error_code": ErrorCode.BUDGET_REACHED.value},
        )
    if event.type == "user.define_outcome":
        check_define(state.outcomes)
    elif event.type == "user.tool_confirmation":
        _check_pending(state, str(event.data.get("tool_use_id")), "tool_use_id")
    elif event.type == "user.custom_tool_result":
        _check_pending(state, str(event.data.get("custom_tool_use_id")), "custom_tool_use_id")


def _paused(state: SessionState) -> bool:
    return state.status == "idle" and spend.may_be_paused(state.usage_json()) and spend.PAUSED in state.usage


def _check_pending(state: SessionState, event_id: str, field: str) -> None:
    if event_id not in state.pending_actions:
        raise InvalidRequest(
            f"{field} {event_id!r} does not reference an event waiting for this answer",
            code=ErrorCode.UNKNOWN_TOOL_USE,
        )

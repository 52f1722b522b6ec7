"""Session logs written by hand, for the unit tests of the harness's pure core (the fold, ``decide``, the context).

``log(*items)`` builds real ``Event``s at positions 1, 2, 3 … with ids ``e1``, ``e2`` … (or the id an item gives
third); client events (``user.*``) are not yet stamped, as the API writes them. ``fold`` applies a log to a fresh
``TurnState`` the way a worker does.
"""

from __future__ import annotations

from dataclasses import replace

from corral._types import JSONObject
from corral.harness.log import TurnState
from corral.session import Event, EventType, dumps

Item = tuple[EventType, JSONObject] | tuple[EventType, JSONObject, str]
"""An event to write: its type, its payload, and optionally its id."""

STAMP = "2026-11-26T00:00:00Z"


def log(*items: Item) -> list[Event]:
    events: list[Event] = []
    for seq, item in enumerate(items, start=1):
        kind, data = item[0], item[1]
        event_id = item[2] if len(item) == 3 else f"e{seq}"
        processed = None if kind.startswith("user.") else STAMP
        events.append(Event("sesn_x", seq, event_id, kind, processed, STAMP, dumps(data)))
    return events


def stamped(events: list[Event], *event_ids: str) -> list[Event]:
    """``events`` with the client events ``event_ids`` marked processed (as the harness stamps them)."""
    return [replace(e, processed_at=STAMP) if e.id in event_ids else e for e in events]


def fold(events: list[Event]) -> TurnState:
    state = TurnState()
    for event in events:
        state.apply(event)
    return state


def msg(value: str) -> Item:
    return ("user.message", {"content": [{"type": "text", "text": value}]})


def said(value: str) -> Item:
    return ("agent.message", {"content": [{"type": "text", "text": value}]})


def tool_use(name: str, permission: str | None = "allow", event_id: str | None = None, **extra: object) -> Item:
    """An ``agent.tool_use`` with its verdict (``None``: a log written without one)."""
    data: JSONObject = {"name": name, "input": {}, **extra}
    if permission is not None:
        data["evaluated_permission"] = permission
    return ("agent.tool_use", data) if event_id is None else ("agent.tool_use", data, event_id)


def custom_use(name: str) -> Item:
    return ("agent.custom_tool_use", {"name": name, "input": {}})


def result(call_id: str, *, is_error: bool = False) -> Item:
    return ("agent.tool_result", {"tool_use_id": call_id, "content": [], "is_error": is_error})


def custom_result(call_id: str) -> Item:
    return ("user.custom_tool_result", {"custom_tool_use_id": call_id})


def confirm(call_id: str, answer: str, deny_message: str | None = None) -> Item:
    data: JSONObject = {"tool_use_id": call_id, "result": answer}
    if deny_message is not None:
        data["deny_message"] = deny_message
    return ("user.tool_confirmation", data)


def idle(stop: str, *event_ids: str) -> Item:
    reason: JSONObject = {"type": stop}
    if stop == "requires_action":
        reason["event_ids"] = list(event_ids)
    return ("session.status_idle", {"stop_reason": reason})


def error(retry: str = "retrying", kind: str = "model_overloaded_error") -> Item:
    return ("session.error", {"error": {"type": kind, "message": "x", "retry_status": {"type": retry}}})


def end(stop: str | None = "end_turn", *, is_error: bool = False) -> Item:
    data: JSONObject = {"is_error": is_error}
    if stop is not None:
        data["stop_reason"] = stop
    return ("span.model_request_end", data)


RUN: Item = ("session.status_running", {})
RESCHEDULED: Item = ("session.status_rescheduled", {})
INTERRUPT: Item = ("user.interrupt", {})
START: Item = ("span.model_request_start", {"purpose": "turn"})
COMPACTING: Item = ("span.model_request_start", {"purpose": "compaction"})
END: Item = end()
FAILED: Item = end(None, is_error=True)

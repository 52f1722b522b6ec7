"""A session's events as timeline entries: one function the page (on load) and the live stream (``/stream``)
both use, so a live entry looks exactly like the same entry after a reload.

Invariants:

* An entry holds only plain text (titles, texts, pretty JSON); it is escaped where it is shown (Jinja2
  autoescape on the page, ``textContent`` in ``console.js``), never trusted as markup.
* A model span's latency is the time between its ``span.model_request_start`` and its end, both read from the
  log; token usage is the end event's ``model_usage``.
* ``action`` marks a call the session is waiting on (``confirm``: a tool call to approve or deny; ``custom``: a
  custom tool call that needs its result); ``answers`` names the call an event settles, so the page can drop the
  forms of calls that were answered.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, TypedDict

from corral._types import JSONObject, json_list, json_object
from corral.session import Event
from corral.vocab.events import answered_call

Action = Literal["confirm", "custom"]


class Entry(TypedDict):
    seq: int
    id: str
    type: str
    kind: str
    title: str
    text: str
    detail: str
    action: Action | None
    answers: str | None
    status: str | None
    waits_on: list[str]


def pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def blocks_text(content: object) -> str:
    """The text of a content block list (other blocks are named, not shown)."""
    parts: list[str] = []
    for block in json_list(content) or []:
        item = json_object(block) or {}
        parts.append(str(item.get("text", "")) if item.get("type") == "text" else f"[{item.get('type')}]")
    return "\n".join(parts) if parts else ("" if content is None else str(content))


def _seconds(start: str, end: str) -> float | None:
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


def _span_end(data: JSONObject, start_at: str | None, created_at: str) -> tuple[str, str]:
    usage = json_object(data.get("model_usage")) or {}
    tokens = f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens"
    latency = _seconds(start_at, created_at) if start_at else None
    took = f", {latency:.2f} s" if latency is not None else ""
    failed = " (failed)" if data.get("is_error") else ""
    return f"Model response{failed}", f"{tokens}{took}"


def _status(event_type: str, data: JSONObject) -> tuple[str, str]:
    status = event_type.removeprefix("session.status_")
    reason = json_object(data.get("stop_reason")) or {}
    because = f" ({reason.get('type')})" if reason.get("type") else ""
    return status, f"Status: {status}{because}"


def _tool_title(event_type: str, data: JSONObject) -> str:
    name = str(data.get("name", ""))
    if event_type == "agent.custom_tool_use":
        return f"Custom tool call: {name}"
    permission = data.get("evaluated_permission")
    return f"Tool call: {name}" + (f" (permission: {permission})" if permission else "")


def entry(event: Event, span_starts: dict[str, str], pending: frozenset[str] = frozenset()) -> Entry:
    """The entry of ``event``; ``span_starts`` maps model-request start ids to their times (updated here);
    ``pending``: the ids of calls the session still waits on."""
    data = event.data()
    kind, title, text, detail = "other", event.type, "", ""
    status: str | None = None
    action: Action | None = None
    waits_on: list[str] = []
    match event.type:
        case "user.message" | "agent.message":
            kind = "user" if event.type == "user.message" else "message"
            title = "You" if kind == "user" else "Agent"
            text = blocks_text(data.get("content"))
        case "agent.thinking":
            kind, title, text = "thinking", "Thinking", str(data.get("thinking", ""))
        case "agent.tool_use" | "agent.custom_tool_use" | "agent.mcp_tool_use":
            kind, title, detail = "tool", _tool_title(event.type, data), pretty(data.get("input"))
            if event.id in pending:
                action = "custom" if event.type == "agent.custom_tool_use" else "confirm"
        case "agent.tool_result" | "agent.mcp_tool_result" | "user.custom_tool_result" | "user.tool_result":
            kind, title = "result", "Tool error" if data.get("is_error") else "Tool result"
            text = blocks_text(data.get("content"))
        case "user.tool_confirmation":
            kind = "user"
            title = f"Tool call {'approved' if data.get('result') == 'allow' else 'denied'}"
            text = str(data.get("deny_message") or "")
        case "user.interrupt":
            kind, title = "user", "Interrupted"
        case "session.error":
            error = json_object(data.get("error")) or {}
            kind, title, text = "error", f"Error: {error.get('type', 'error')}", str(error.get("message", ""))
        case "span.model_request_start":
            span_starts[event.id] = event.created_at
            kind, title, text = "span", "Model request", str(data.get("model", ""))
        case "span.model_request_end":
            start_at = span_starts.get(str(data.get("model_request_start_id")))
            kind = "span"
            title, text = _span_end(data, start_at, event.created_at)
        case _ if event.type.startswith("session.status_"):
            kind = "status"
            status, title = _status(event.type, data)
            reason = json_object(data.get("stop_reason")) or {}
            if reason.get("type") == "requires_action":
                waits_on = [str(call) for call in json_list(reason.get("event_ids")) or []]
        case _:
            detail = pretty(data) if data else ""
    answers = answered_call(event.type, data) or (
        str(data.get("tool_use_id")) if event.type == "user.tool_confirmation" else None
    )
    return Entry(
        seq=event.seq,
        id=event.id,
        type=event.type,
        kind=kind,
        title=title,
        text=text,
        detail=detail,
        action=action,
        answers=answers,
        status=status,
        waits_on=waits_on,
    )


def entries(events: list[Event], pending: frozenset[str]) -> list[Entry]:
    starts: dict[str, str] = {}
    return [entry(event, starts, pending) for event in events]


def delta_text(body: dict[str, Any]) -> tuple[str, str] | None:
    """``(event_id, text)`` of a message preview fragment; None for anything else."""
    if body.get("type") != "event_delta":
        return None
    delta = json_object(body.get("delta")) or {}
    content = json_object(delta.get("content")) or {}
    return str(body.get("event_id", "")), str(content.get("text", ""))

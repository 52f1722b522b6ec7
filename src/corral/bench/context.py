"""The stand-in context builder used by the ``log`` suite's recovery figures, shared by corral and the peer.

Until the harness's own context builder exists, "rebuild a model context" means: turn every event of a
session, in order, into Messages-API style messages (consecutive blocks of the same role merged; tool
calls become ``tool_use`` blocks of the assistant, tool outputs ``tool_result`` blocks of the user).

Invariants:

* This module imports the standard library only: the openhands-sdk peer runs it (loaded from this file)
  in its own Python 3.12 interpreter, so both systems rebuild with the very same code.
* ``rebuild`` sees system-neutral items ``(kind, fields)``; each system's adapter does its own parsing
  (corral: ``json.loads`` of the stored payload; openhands-sdk: its ``ConversationState.create`` has
  already validated every event into pydantic objects) and hands over plain values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

USER, ASSISTANT, TOOL_USE, TOOL_RESULT = "user", "assistant", "tool_use", "tool_result"

_ROLE = {USER: "user", ASSISTANT: "assistant", TOOL_USE: "assistant", TOOL_RESULT: "user"}


def _block(kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    if kind == TOOL_USE:
        return {"type": "tool_use", "id": fields["id"], "name": fields["name"], "input": fields["input"]}
    if kind == TOOL_RESULT:
        return {
            "type": "tool_result",
            "tool_use_id": fields["tool_use_id"],
            "content": [{"type": "text", "text": fields["text"]}],
            "is_error": bool(fields.get("is_error", False)),
        }
    return {"type": "text", "text": fields["text"]}


def rebuild(items: Iterable[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Messages for a model request, built from the session's items in order (unknown kinds are skipped)."""
    messages: list[dict[str, Any]] = []
    for kind, fields in items:
        role = _ROLE.get(kind)
        if role is None:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].append(_block(kind, fields))
        else:
            messages.append({"role": role, "content": [_block(kind, fields)]})
    return messages


def _text(content: Any) -> str:
    blocks: Iterable[Any] = content or ()
    parts: list[str] = []
    for block in blocks:
        match block:
            case {"text": str(text)}:
                parts.append(text)
            case _:  # not a text block
                pass
    return "".join(parts)


def corral_item(event_type: str, event_id: str, payload: str) -> tuple[str, Mapping[str, Any]]:
    """corral's adapter: one stored event (type, id, JSON payload text) → a neutral item."""
    data = json.loads(payload)
    if event_type == "user.message":
        return USER, {"text": _text(data.get("content"))}
    if event_type == "agent.message":
        return ASSISTANT, {"text": _text(data.get("content"))}
    if event_type == "agent.tool_use":
        return TOOL_USE, {"id": event_id, "name": data.get("name"), "input": data.get("input")}
    if event_type == "agent.tool_result":
        return TOOL_RESULT, {
            "tool_use_id": data.get("tool_use_id"),
            "text": _text(data.get("content")),
            "is_error": data.get("is_error", False),
        }
    return "", data


def digest(messages: list[dict[str, Any]]) -> str:
    """A hash of the rebuilt context, to check that two systems rebuilt exactly the same one."""
    text = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()

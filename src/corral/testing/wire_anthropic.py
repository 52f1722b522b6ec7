"""The Anthropic Messages API wire format (``POST /v1/messages``), streaming (SSE) and not."""

from __future__ import annotations

import json
from typing import Any

from corral._types import JSONObject
from corral.testing.render import Frame, block_id, broken_tool_json, json_pieces, message_text, tokens, usage
from corral.testing.script import Fault, Reply, Seen

ERRORS = {
    "rate_limit": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    "server_error": (500, "api_error", "Internal server error"),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "stream_error": (200, "overloaded_error", "Overloaded"),
}


def seen(body: JSONObject) -> Seen:
    messages: list[Any] = body.get("messages") or []
    system = body.get("system")
    first_user = next((message_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
    return Seen(
        protocol="anthropic",
        assistant_turns=sum(1 for m in messages if m.get("role") == "assistant"),
        system_text=system if isinstance(system, str) else json.dumps(system or ""),
        body_text=json.dumps(body),
        first_user_text=first_user,
        model=str(body.get("model", "")),
        stream=bool(body.get("stream")),
    )


def error(kind: str, message: str | None = None) -> tuple[int, JSONObject]:
    status, error_type, usual = ERRORS[kind]
    message = message or usual
    return status, {"type": "error", "error": {"type": error_type, "message": message}}


def _sse(name: str, data: JSONObject, token: bool = False) -> Frame:
    return Frame(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode(), token)


def _blocks(reply: Reply, position: int, seed: str, fault: Fault | None) -> list[Frame]:
    frames: list[Frame] = []
    for index, block in enumerate(reply.content):
        if block["type"] == "text":
            start: JSONObject = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": t} for t in tokens(str(block.get("text", "")))]
        elif block["type"] == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": t} for t in tokens(str(block.get("thinking", "")))]
            deltas.append({"type": "signature_delta", "signature": str(block.get("signature", "sig"))})
        else:
            tool_id = block_id("toolu_", position, index, seed)
            start = {"type": "tool_use", "id": tool_id, "name": block.get("name"), "input": {}}
            pieces = json_pieces(block.get("input") or {}, broken_tool_json(fault))
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
        frames.append(
            _sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
        )
        for delta in deltas:
            frames.append(
                _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}, True)
            )
        frames.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return frames


def stream(reply: Reply, seen: Seen, position: int, fault: Fault | None) -> list[Frame]:
    counts = usage(reply, seen.body_text)
    start_usage = {**counts, "output_tokens": 1}
    message: JSONObject = {
        "id": block_id("msg_", position, -1, seen.first_user_text),
        "type": "message",
        "role": "assistant",
        "model": seen.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    frames = [_sse("message_start", {"type": "message_start", "message": message}), _sse("ping", {"type": "ping"})]
    frames += _blocks(reply, position, seen.first_user_text, fault)
    delta = {"stop_reason": reply.stop, "stop_sequence": None}
    frames.append(
        _sse(
            "message_delta",
            {"type": "message_delta", "delta": delta, "usage": {"output_tokens": counts["output_tokens"]}},
        )
    )
    frames.append(_sse("message_stop", {"type": "message_stop"}))
    return frames


def stream_error_frame(kind: str) -> Frame:
    _, body = error(kind)
    return _sse("error", body)


def malformed_frame() -> Frame:
    return Frame(b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {\n\n')


def message(reply: Reply, seen: Seen, position: int, fault: Fault | None) -> JSONObject:
    content: list[JSONObject] = []
    for index, block in enumerate(reply.content):
        if block["type"] == "text":
            content.append({"type": "text", "text": block.get("text", "")})
        elif block["type"] == "thinking":
            content.append(
                {"type": "thinking", "thinking": block.get("thinking", ""), "signature": block.get("signature", "sig")}
            )
        else:
            tool_id = block_id("toolu_", position, index, seen.first_user_text)
            content.append(
                {"type": "tool_use", "id": tool_id, "name": block.get("name"), "input": block.get("input") or {}}
            )
    return {
        "id": block_id("msg_", position, -1, seen.first_user_text),
        "type": "message",
        "role": "assistant",
        "model": seen.model,
        "content": content,
        "stop_reason": reply.stop,
        "stop_sequence": None,
        "usage": usage(reply, seen.body_text),
    }

"""The OpenAI Chat Completions wire format (``POST /v1/chat/completions``), streaming (SSE) and not.

Thinking blocks are streamed as ``reasoning_content`` deltas (the field DeepSeek and vLLM use).
"""

from __future__ import annotations

import json
import time
from typing import Any

from corral._types import JSONObject
from corral.testing.render import Frame, block_id, broken_tool_json, json_pieces, message_text, tokens, usage
from corral.testing.script import Fault, Reply, Seen, ToolUseBlock

FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length", "refusal": "content_filter"}
ERRORS = {
    "rate_limit": (429, "rate_limit_exceeded", "Rate limit reached for requests"),
    "server_error": (500, "server_error", "The server had an error while processing your request"),
    "overloaded": (503, "overloaded_error", "The engine is currently overloaded, please try again later"),
    "stream_error": (200, "server_error", "The server had an error while processing your request"),
}


def seen(body: JSONObject) -> Seen:
    messages: list[Any] = body.get("messages") or []
    system = "\n".join(message_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    first_user = next((message_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
    return Seen(
        protocol="openai",
        assistant_turns=sum(1 for m in messages if m.get("role") == "assistant"),
        system_text=system,
        body_text=json.dumps(body),
        first_user_text=first_user,
        model=str(body.get("model", "")),
        stream=bool(body.get("stream")),
    )


def error(kind: str, message: str | None = None) -> tuple[int, JSONObject]:
    status, error_type, usual = ERRORS[kind]
    message = message or usual
    return status, {"error": {"message": message, "type": error_type, "param": None, "code": error_type}}


class _Chunks:
    def __init__(self, seen: Seen, position: int):
        self.id = block_id("chatcmpl-", position, -1, seen.first_user_text)
        self.model = seen.model
        self.created = int(time.time())

    def frame(self, delta: JSONObject, finish: str | None = None, token: bool = False) -> Frame:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return self.raw({"choices": [choice]}, token)

    def raw(self, extra: JSONObject, token: bool = False) -> Frame:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model, **extra}
        return Frame(f"data: {json.dumps(body)}\n\n".encode(), token)


def _call_frames(chunks: _Chunks, block: ToolUseBlock, call: int, call_id: str, fault: Fault | None) -> list[Frame]:
    function = {"name": block.get("name"), "arguments": ""}
    frames = [chunks.frame({"tool_calls": [{"index": call, "id": call_id, "type": "function", "function": function}]})]
    for piece in json_pieces(block.get("input") or {}, broken_tool_json(fault)):
        frames.append(chunks.frame({"tool_calls": [{"index": call, "function": {"arguments": piece}}]}, token=True))
    return frames


def _usage_frame(chunks: _Chunks, reply: Reply, seen: Seen) -> Frame:
    counts = usage(reply, seen.body_text)
    total = counts["input_tokens"] + counts["output_tokens"]
    numbers = {
        "prompt_tokens": counts["input_tokens"],
        "completion_tokens": counts["output_tokens"],
        "total_tokens": total,
    }
    return chunks.raw({"choices": [], "usage": numbers})


def stream(reply: Reply, seen: Seen, position: int, fault: Fault | None, include_usage: bool) -> list[Frame]:
    chunks = _Chunks(seen, position)
    frames = [chunks.frame({"role": "assistant", "content": ""})]
    calls = 0
    for index, block in enumerate(reply.content):
        if block["type"] == "text":
            frames += [chunks.frame({"content": t}, token=True) for t in tokens(str(block.get("text", "")))]
        elif block["type"] == "thinking":
            pieces = tokens(str(block.get("thinking", "")))
            frames += [chunks.frame({"reasoning_content": t}, token=True) for t in pieces]
        else:
            call_id = block_id("call_", position, index, seen.first_user_text)
            frames += _call_frames(chunks, block, calls, call_id, fault)
            calls += 1
    frames.append(chunks.frame({}, FINISH.get(reply.stop, "stop")))
    if include_usage:
        frames.append(_usage_frame(chunks, reply, seen))
    frames.append(Frame(b"data: [DONE]\n\n"))
    return frames


def stream_error_frame(kind: str) -> Frame:
    _, body = error(kind)
    return Frame(f"data: {json.dumps(body)}\n\n".encode())


def malformed_frame() -> Frame:
    return Frame(b'data: {"id": "chatcmpl-broken", "choices": [{"index": 0, "delta": {"content": \n\n')


def completion(reply: Reply, seen: Seen, position: int, fault: Fault | None) -> JSONObject:
    text = "".join(str(b.get("text", "")) for b in reply.content if b.get("type") == "text")
    reasoning = "".join(str(b.get("thinking", "")) for b in reply.content if b.get("type") == "thinking")
    calls = [
        {
            "id": block_id("call_", position, index, seen.first_user_text),
            "type": "function",
            "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})},
        }
        for index, b in enumerate(reply.content)
        if b.get("type") == "tool_use"
    ]
    message: JSONObject = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = reasoning
    counts = usage(reply, seen.body_text)
    return {
        "id": block_id("chatcmpl-", position, -1, seen.first_user_text),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": seen.model,
        "choices": [{"index": 0, "message": message, "finish_reason": FINISH.get(reply.stop, "stop")}],
        "usage": {
            "prompt_tokens": counts["input_tokens"],
            "completion_tokens": counts["output_tokens"],
            "total_tokens": counts["input_tokens"] + counts["output_tokens"],
        },
    }

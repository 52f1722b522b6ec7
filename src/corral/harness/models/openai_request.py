"""Neutral requests → OpenAI Chat Completions request bodies (see ``models.openai`` for the mapping choices).

A message's Chat Completions messages are made once and kept on it (``Message.wire``): shared by every request that
carries it, never changed (the SDK copies what it sends).
"""

from __future__ import annotations

import json

from corral._types import JSONObject
from corral.harness.models.base import ModelRequest
from corral.harness.models.content import Content, Document, Image, Message, Text, ToolOutput, ToolUse

KIND = "openai"


def request_params(request: ModelRequest, limit_field: str = "max_tokens") -> JSONObject:
    """``limit_field``: ``max_completion_tokens`` for api.openai.com (its reasoning models refuse
    ``max_tokens``), ``max_tokens`` for other OpenAI-compatible servers (which do not all know the new name)."""
    messages: list[JSONObject] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for message in request.messages:  # each converted once, however many requests carry it (``Message.wire``)
        messages.extend(message.wire(KIND, _messages).parts)
    params: JSONObject = {
        "model": request.model,
        "messages": messages,
        limit_field: request.max_tokens,
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
            }
            for t in request.tools
        ]
    return params


def _messages(message: Message) -> list[JSONObject]:
    if message.role == "assistant":
        return _assistant(message)
    if message.role == "system":
        return [{"role": "system", "content": "\n".join(b.text for b in message.content if isinstance(b, Text))}]
    out: list[JSONObject] = []
    parts: list[JSONObject] = []
    for block in message.content:
        if isinstance(block, ToolOutput):
            text, extra = _tool_output(block)
            out.append({"role": "tool", "tool_call_id": block.tool_use_id, "content": text})
            if extra:
                parts.append({"type": "text", "text": f"(attachments returned by tool call {block.tool_use_id})"})
                parts.extend(extra)
        elif isinstance(block, Text | Image | Document):
            parts.append(_part(block))
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _assistant(message: Message) -> list[JSONObject]:
    text = "".join(b.text for b in message.content if isinstance(b, Text))
    calls = [
        {"id": b.id, "type": "function", "function": {"name": b.name, "arguments": json.dumps(b.input)}}
        for b in message.content
        if isinstance(b, ToolUse)
    ]
    if not text and not calls:
        return []
    out: JSONObject = {"role": "assistant", "content": text or None}
    if calls:
        out["tool_calls"] = calls
    return [out]


def _tool_output(block: ToolOutput) -> tuple[str, list[JSONObject]]:
    texts = [b.text for b in block.content if isinstance(b, Text)]
    extra = [_part(b) for b in block.content if not isinstance(b, Text)]
    text = "\n".join(texts) or ("(see attachments)" if extra else "")
    return ("Error: " + text if block.is_error else text), extra


def _part(block: Content) -> JSONObject:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text}
    source = block.source
    if isinstance(block, Image):
        url = source.get("url") or f"data:{source.get('media_type')};base64,{source.get('data')}"
        return {"type": "image_url", "image_url": {"url": url}}
    if source.get("type") == "text":
        return {"type": "text", "text": str(source.get("data", ""))}
    if source.get("type") == "base64":
        data = f"data:{source.get('media_type')};base64,{source.get('data')}"
        return {"type": "file", "file": {"filename": block.title or "document", "file_data": data}}
    return {"type": "text", "text": f"[document: {source.get('url') or block.title or 'unavailable'}]"}

"""What both wire protocols share when a scripted reply is rendered: tokens, ids, usage, frames."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from corral._types import JSONObject, json_list
from corral.testing.script import Fault, Reply, Usage

_TOKEN = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True)
class Frame:
    """One piece of a streamed response. ``token`` frames are paced at the script's tokens/s."""

    data: bytes
    token: bool = False


def tokens(value: str) -> list[str]:
    """Word-sized pieces whose concatenation is ``value``."""
    return _TOKEN.findall(value)


def json_pieces(value: JSONObject, broken: bool) -> list[str]:
    """A tool input as streamed JSON fragments; ``broken`` cuts it off so it no longer parses."""
    encoded = json.dumps(value)
    if broken:
        encoded = encoded[: max(1, len(encoded) // 2)] + '"}{'
    size = max(1, len(encoded) // 3)
    return [encoded[i : i + size] for i in range(0, len(encoded), size)]


def block_id(prefix: str, position: int, index: int, seed: str) -> str:
    digest = hashlib.sha256(f"{seed}|{position}|{index}".encode()).hexdigest()[:24]
    return f"{prefix}{digest}"


def output_tokens(reply: Reply) -> int:
    count = 0
    for block in reply.content:
        if block["type"] == "text":
            count += len(tokens(str(block.get("text", ""))))
        elif block["type"] == "thinking":
            count += len(tokens(str(block.get("thinking", ""))))
        else:
            count += max(1, len(json.dumps(block.get("input") or {})) // 4)
    return max(count, 1)


def usage(reply: Reply, body_text: str) -> dict[str, int]:
    scripted: Usage = reply.usage or {}
    return {
        "input_tokens": int(scripted.get("input_tokens", max(1, len(body_text) // 4))),
        "output_tokens": int(scripted.get("output_tokens", output_tokens(reply))),
        "cache_creation_input_tokens": int(scripted.get("cache_creation_input_tokens", 0)),
        "cache_read_input_tokens": int(scripted.get("cache_read_input_tokens", 0)),
    }


def broken_tool_json(fault: Fault | None) -> bool:
    return fault is not None and fault.kind == "invalid_tool_json"


def message_text(content: object) -> str:
    """The text of a message's ``content`` in a request body (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in json_list(content) or []:
        match block:
            case {"text": str(text)}:
                parts.append(text)
            case _:  # an image, a tool result …: no text of its own
                pass
    return "\n".join(parts)

"""The neutral content format every provider adapter translates to and from.

Invariants:

* The format is a lossless superset of what the session log stores: event content blocks
  (``text``, ``image``, ``document``, ``search_result``, ``redacted``) map to blocks here and back.
* Provider-specific artefacts (a thinking ``signature``, redacted thinking ``data``) carry the provider
  kind that produced them in ``origin``; an adapter for another provider drops them instead of sending
  something the other side cannot verify. That is what lets a session switch providers between turns.
* Nothing here does I/O.
* A ``Message`` is a value (its ``content`` is never changed in place), so what an adapter converts it to is kept on
  it (``Message.wire``) and reused by every request that carries it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from corral._types import JSONObject, json_list, json_object

Role = Literal["user", "assistant", "system"]

#: JSON text as the providers' SDKs write a request body (compact, UTF-8 kept, no NaN)
encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Image:
    #: ``{"type": "base64", "media_type", "data"}`` or ``{"type": "url", "url"}``
    source: JSONObject


@dataclass(frozen=True)
class Document:
    #: ``{"type": "base64" | "text" | "url", …}`` as in the Messages API
    source: JSONObject
    title: str | None = None


@dataclass(frozen=True)
class Thinking:
    text: str
    signature: str | None = None
    #: opaque redacted-thinking payload (Anthropic ``redacted_thinking.data``)
    redacted: str | None = None
    origin: str = ""


@dataclass(frozen=True)
class ToolUse:
    id: str
    name: str
    input: JSONObject


Content = Text | Image | Document


@dataclass(frozen=True)
class ToolOutput:
    """The answer to one ``ToolUse`` (a ``tool_result`` block)."""

    tool_use_id: str
    content: list[Content] = field(default_factory=lambda: list[Content]())
    is_error: bool = False


Block = Text | Image | Document | Thinking | ToolUse | ToolOutput


@dataclass(frozen=True)
class Wire:
    """What an adapter sends for one message: its JSON objects (and, when asked, their JSON text)."""

    parts: list[JSONObject]

    @cached_property
    def text(self) -> str:
        """The parts as JSON, joined by commas (to assemble a body from)."""
        return ",".join(map(encode, self.parts))


@dataclass(frozen=True)
class Message:
    role: Role
    content: list[Block]
    #: ``wire`` made so far, by key
    _wire: dict[str, Wire] = field(default_factory=lambda: dict[str, Wire](), init=False, repr=False, compare=False)

    def wire(self, key: str, convert: Callable[[Message], list[JSONObject]]) -> Wire:
        """``convert(self)``, made once per ``key`` (an adapter and what its conversion depends
        on): a message is a value, so however many requests carry it (``harness.context_cache``), it is converted
        once. The parts are shared: read-only."""
        made = self._wire.get(key)
        if made is None:
            made = self._wire[key] = Wire(convert(self))
        return made


def blocks_from_wire(content: list[Any] | None) -> list[Content]:
    """Event content blocks (as stored in the log) → neutral blocks; unknown kinds become text notes."""
    blocks: list[Content] = []
    for raw in content or []:
        item = json_object(raw)
        if item is None:
            continue
        kind = item.get("type")
        if kind == "text":
            blocks.append(Text(str(item.get("text", ""))))
        elif kind == "image":
            blocks.append(Image(dict(item.get("source") or {})))
        elif kind == "document":
            blocks.append(Document(dict(item.get("source") or {}), item.get("title")))
        elif kind == "search_result":
            blocks.append(Text(_search_result_text(item)))
        elif kind == "redacted":
            blocks.append(Text("[redacted]"))
    return blocks


def _search_result_text(item: JSONObject) -> str:
    parts = [json_object(part) for part in json_list(item.get("content")) or []]
    inner = [str(part.get("text", "")) for part in parts if part is not None]
    source = item.get("source")
    head = f"{item.get('title', '')} ({source})" if source else str(item.get("title", ""))
    return head + "\n" + "\n".join(inner)


def text_of(blocks: list[Block]) -> str:
    """The plain text of ``blocks`` (for token estimates and summaries)."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Text | Thinking):
            parts.append(block.text)
        elif isinstance(block, ToolUse):
            parts.append(f"{block.name}({block.input})")
        elif isinstance(block, ToolOutput):
            parts.append(text_of(list(block.content)))
    return "\n".join(parts)

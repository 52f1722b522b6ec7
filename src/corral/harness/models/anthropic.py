"""The Anthropic Messages API adapter (``AsyncAnthropic``, streaming).

Invariants: see ``models.base``. Besides: the SDK's own retries are off (``max_retries=0``), so each
attempt is visible in the session log; thinking blocks are sent back only when they came from an
Anthropic model (their signatures mean nothing elsewhere) and thinking is enabled for the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from corral._types import JSONObject
from corral.errors import ModelError
from corral.harness.models import errors
from corral.harness.models.base import (
    BlockFinished,
    BlockStarted,
    ModelEvent,
    ModelRequest,
    ResponseFinished,
    StopReason,
    TextDelta,
    Usage,
)
from corral.harness.models.content import Block, Document, Image, Message, Text, Thinking, ToolUse, encode

KIND = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
_STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
    "pause_turn": "end_turn",
    "model_context_window_exceeded": "max_tokens",
}


class AnthropicClient:
    kind = KIND

    def __init__(self, *, base_url: str | None, api_key: str | None, timeout: float = 600.0):
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key or "unset", base_url=base_url or DEFAULT_BASE_URL, max_retries=0, timeout=timeout
        )

    def warm(self) -> None:
        """Import what the first request would import lazily (blocking; call it from a thread at start-up)."""
        assert callable(self._client.messages.create)

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        failure: ModelError | None = None
        try:
            # the SDK's lower-level post (its retries, streaming and errors as ``messages.create``), with a body
            # made here from what each message kept (``request_body``) rather than walked and copied whole
            response = await self._client.post(
                "/v1/messages",
                cast_to=anthropic.types.Message,
                content=request_body(request),
                stream=True,
                stream_cls=anthropic.AsyncStream[anthropic.types.RawMessageStreamEvent],
            )
            reader = _StreamReader()
            async with response:
                async for raw in response:
                    for event in reader.feed(raw):
                        yield event
            if not reader.finished:
                failure = errors.malformed("the stream ended before message_stop")
        except anthropic.APIStatusError as exc:
            failure = errors.from_status(exc.status_code, exc.type, exc.message, exc.response.headers)
        except (anthropic.APIConnectionError, httpx2.HTTPError) as exc:
            failure = errors.transport(str(exc) or type(exc).__name__)
        except ValueError as exc:  # JSON that did not parse (malformed SSE data)
            failure = errors.malformed(str(exc))
        if failure is not None:
            raise failure  # outside the handlers, unchained: see the ``errors`` module docstring


# ------------------------------------------------------------------------------------------ request


def request_params(request: ModelRequest) -> JSONObject:
    """The Messages API request for ``request`` (without ``stream``): the definition ``request_body`` keeps to."""
    thinking = request.thinking_budget is not None
    system_parts = [request.system] if request.system else []
    messages: list[JSONObject] = []
    for message in request.messages:
        if message.role == "system":
            system_parts.extend(block.text for block in message.content if isinstance(block, Text))
            continue
        content = _message_content(message, thinking)
        if not content:
            continue
        if messages and messages[-1]["role"] == message.role:
            messages[-1]["content"].extend(content)
        else:
            messages.append({"role": message.role, "content": content})
    head: JSONObject = {"model": request.model, "max_tokens": request.max_tokens, "messages": messages}
    return {**head, **_settings(request, system_parts)}


#: the last messages of a request are assembled again by the next one (the context's still-open end changes)
OPEN_END = 4


@dataclass
class _Assembled:
    """``request_body``'s work over a request's leading ``messages``: their encoded turns, the last turn's role and
    content, and the text of their system messages."""

    messages: list[Message] = field(default_factory=lambda: list[Message]())
    turns: list[str] = field(default_factory=lambda: list[str]())
    role: str = ""
    run: list[JSONObject] = field(default_factory=lambda: list[JSONObject]())
    system: list[str] = field(default_factory=lambda: list[str]())

    def continued(self, messages: list[Message]) -> _Assembled:
        """A copy to go on from, when ``messages`` begin with the ones this was made from; else a fresh start."""
        if messages[: len(self.messages)] != self.messages:  # the same objects, mostly: compared at once
            return _Assembled()
        return _Assembled(self.messages, self.turns[:], self.role, self.run, self.system[:])

    def add(self, message: Message, key: str, convert: Callable[[Message], list[JSONObject]]) -> None:
        if message.role == "system":
            self.system.extend(block.text for block in message.content if isinstance(block, Text))
            return
        wire = message.wire(key, convert)
        if not wire.parts:
            return
        content: list[JSONObject] = wire.parts[0]["content"]
        if message.role != self.role:
            self.turns.append(wire.text)
            self.role, self.run = message.role, content
        else:  # the API sees one message: merged as ``request_params`` merges it (rare: a system message between)
            self.run = [*self.run, *content]
            self.turns[-1] = encode({"role": self.role, "content": self.run})


def request_body(request: ModelRequest) -> bytes:
    """``request_params(request)`` with ``stream: true``, as the JSON the API is sent. Each message is converted and
    encoded once (``Message.wire``: its Messages API message, none when nothing of it is sent), and the turns of a
    request's leading messages are kept (``request.memo``) for the session's next request to go on from, so a request
    assembles only its new messages; the body is handed to the SDK as is, sparing its walk and copy of the tree."""
    thinking = request.thinking_budget is not None
    key, convert = (f"{KIND}:thinking", _thinking_message) if thinking else (KIND, _message)
    messages = request.messages
    kept = request.memo.kept.get(key)
    body = kept.continued(messages) if isinstance(kept, _Assembled) else _Assembled()
    stable = max(len(body.messages), len(messages) - OPEN_END)
    for index in range(len(body.messages), len(messages)):
        if index == stable:
            request.memo.kept[key] = _Assembled(messages[:index], body.turns[:], body.role, body.run, body.system[:])
        body.add(messages[index], key, convert)
    system = [request.system, *body.system] if request.system else body.system
    head = encode({"model": request.model, "max_tokens": request.max_tokens})[1:-1]
    tail = encode({**_settings(request, system), "stream": True})[1:-1]
    return ("{" + head + ',"messages":[' + ",".join(body.turns) + "]," + tail + "}").encode()


def _message(message: Message) -> list[JSONObject]:
    content = _message_content(message, False)
    return [{"role": message.role, "content": content}] if content else []


def _thinking_message(message: Message) -> list[JSONObject]:
    content = _message_content(message, True)
    return [{"role": message.role, "content": content}] if content else []


def _message_content(message: Message, thinking: bool) -> list[JSONObject]:
    return [param for block in message.content if (param := _block_param(block, thinking)) is not None]


def _settings(request: ModelRequest, system_parts: list[str]) -> JSONObject:
    """The request's fields besides the model, the token limit and the messages."""
    settings: JSONObject = {}
    if system_parts:
        settings["system"] = "\n\n".join(system_parts)
    if request.tools:
        settings["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in request.tools
        ]
    if request.thinking_budget is not None:
        settings["thinking"] = {"type": "enabled", "budget_tokens": request.thinking_budget}
    return settings


def _content_param(block: Text | Image | Document) -> JSONObject | None:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text} if block.text else None
    if isinstance(block, Image):
        return {"type": "image", "source": block.source}
    doc: JSONObject = {"type": "document", "source": block.source}
    if block.title:
        doc["title"] = block.title
    return doc


def _block_param(block: Block, thinking: bool) -> JSONObject | None:
    if isinstance(block, Text | Image | Document):
        return _content_param(block)
    if isinstance(block, Thinking):
        if not thinking or block.origin != KIND:
            return None
        if block.redacted is not None:
            return {"type": "redacted_thinking", "data": block.redacted}
        return {"type": "thinking", "thinking": block.text, "signature": block.signature or ""}
    if isinstance(block, ToolUse):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    content = [param for part in block.content if (param := _content_param(part)) is not None]
    result: JSONObject = {"type": "tool_result", "tool_use_id": block.tool_use_id, "content": content}
    if block.is_error:
        result["is_error"] = True
    return result


# ------------------------------------------------------------------------------------------ response


@dataclass
class _Open:
    kind: str
    text: list[str] = field(default_factory=lambda: list[str]())
    signature: str | None = None
    redacted: str | None = None
    tool_id: str = ""
    name: str = ""


@dataclass
class _StreamReader:
    """Turns raw Messages stream events into ``ModelEvent``s."""

    usage: dict[str, int] = field(default_factory=lambda: dict[str, int]())
    stop_reason: StopReason = "end_turn"
    open: dict[int, _Open] = field(default_factory=lambda: dict[int, _Open]())
    finished: bool = False

    def feed(self, raw: Any) -> list[ModelEvent]:
        kind = getattr(raw, "type", None)
        if kind == "message_start":
            self._usage(getattr(raw.message, "usage", None))
        elif kind == "content_block_start":
            return self._start(int(raw.index), raw.content_block)
        elif kind == "content_block_delta":
            return self._delta(int(raw.index), raw.delta)
        elif kind == "content_block_stop":
            return self._stop(int(raw.index))
        elif kind == "message_delta":
            self._usage(getattr(raw, "usage", None))
            reason = getattr(raw.delta, "stop_reason", None)
            if reason:
                self.stop_reason = _STOP_REASONS.get(str(reason), "end_turn")
        elif kind == "message_stop":
            self.finished = True
            return [ResponseFinished(self.stop_reason, Usage(**self.usage))]
        return []

    def _usage(self, usage: Any) -> None:
        if usage is None:
            return
        for key in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            value = getattr(usage, key, None)
            if value is not None:
                self.usage[key] = int(value)

    def _start(self, index: int, block: Any) -> list[ModelEvent]:
        kind = getattr(block, "type", "")
        if kind == "text":
            self.open[index] = _Open("text", [str(block.text or "")])
            initial: list[ModelEvent] = [BlockStarted(index, "text")]
            return initial + ([TextDelta(index, block.text)] if block.text else [])
        if kind in ("thinking", "redacted_thinking"):
            self.open[index] = _Open("thinking", redacted=getattr(block, "data", None))
            return [BlockStarted(index, "thinking")]
        if kind == "tool_use":
            self.open[index] = _Open("tool_use", tool_id=str(block.id), name=str(block.name))
            return [BlockStarted(index, "tool_use", str(block.name))]
        return []

    def _delta(self, index: int, delta: Any) -> list[ModelEvent]:
        block = self.open.get(index)
        kind = getattr(delta, "type", "")
        if block is None:
            return []
        if kind == "text_delta":
            block.text.append(delta.text)
            return [TextDelta(index, delta.text)]
        if kind == "thinking_delta":
            block.text.append(delta.thinking)
        elif kind == "signature_delta":
            block.signature = delta.signature
        elif kind == "input_json_delta":
            block.text.append(delta.partial_json)
        return []

    def _stop(self, index: int) -> list[ModelEvent]:
        block = self.open.pop(index, None)
        if block is None:
            return []
        text = "".join(block.text)
        if block.kind == "text":
            return [BlockFinished(index, Text(text))]
        if block.kind == "thinking":
            return [BlockFinished(index, Thinking(text, block.signature, block.redacted, KIND))]
        return [BlockFinished(index, ToolUse(block.tool_id, block.name, errors.parse_tool_input(text)))]

"""Any OpenAI-compatible Chat Completions endpoint (``AsyncOpenAI``, streaming).

Invariants: see ``models.base``. Mapping choices:

* A neutral user message holding tool results becomes one ``role: tool`` message per result, placed
  right after the assistant message that called them; images and documents returned by a tool
  (``tool`` messages carry text only) follow in a ``user`` message that names the call.
* Streamed ``reasoning_content`` / ``reasoning`` (DeepSeek, vLLM, OpenRouter …) becomes a thinking
  block; thinking is never sent back (the Chat Completions API has no field for it).
* ``input_tokens`` excludes cached prompt tokens, as in the Messages API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import httpx2
import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCall

from corral._types import json_object
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
from corral.harness.models.content import Text, Thinking, ToolUse
from corral.harness.models.openai_request import KIND, request_params

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_FINISH: dict[str, StopReason] = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


class OpenAIClient:
    kind = KIND

    def __init__(self, *, base_url: str | None, api_key: str | None, timeout: float = 600.0):
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "unset", base_url=base_url or DEFAULT_BASE_URL, max_retries=0, timeout=timeout
        )
        official = (base_url or DEFAULT_BASE_URL).startswith("https://api.openai.com")
        self._limit_field = "max_completion_tokens" if official else "max_tokens"

    def warm(self) -> None:
        """Import what the first request would import lazily (blocking; call it from a thread at start-up)."""
        assert callable(self._client.chat.completions.create)

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        failure: ModelError | None = None
        try:
            response = await self._client.chat.completions.create(
                **request_params(request, self._limit_field), stream=True
            )
            reader = _ChunkReader()
            async with response:
                async for chunk in response:
                    for event in reader.feed(chunk):
                        yield event
            for event in reader.finish():
                yield event
        except openai.APIStatusError as exc:
            failure = errors.from_status(exc.status_code, _error_type(exc), exc.message, exc.response.headers)
        except (openai.APIConnectionError, httpx2.HTTPError) as exc:
            failure = errors.transport(str(exc) or type(exc).__name__)
        except openai.APIError as exc:  # an error object inside the stream
            failure = errors.from_status(200, _error_type(exc), exc.message)
        except ValueError as exc:
            failure = errors.malformed(str(exc))
        if failure is not None:
            raise failure  # outside the handlers, unchained: see the ``errors`` module docstring


def _error_type(exc: openai.APIError) -> str | None:
    kind = getattr(exc, "type", None)
    if kind:
        return str(kind)
    body = json_object(exc.body)
    return str(body.get("type")) if body is not None and body.get("type") else None


# ------------------------------------------------------------------------------------------ response


@dataclass
class _Call:
    index: int
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=lambda: list[str]())


@dataclass
class _ChunkReader:
    next_index: int = 0
    text_index: int | None = None
    text: list[str] = field(default_factory=lambda: list[str]())
    thinking_index: int | None = None
    thinking: list[str] = field(default_factory=lambda: list[str]())
    calls: dict[int, _Call] = field(default_factory=lambda: dict[int, _Call]())
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)

    def _claim(self) -> int:
        self.next_index += 1
        return self.next_index - 1

    def feed(self, chunk: ChatCompletionChunk) -> list[ModelEvent]:
        # the SDK builds chunks without validation (providers differ): every field may be absent or None
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        out: list[ModelEvent] = []
        for choice in chunk.choices or []:
            if choice.finish_reason:
                self.finish_reason = str(choice.finish_reason)
            delta = cast(ChoiceDelta | None, choice.delta)
            if delta is not None:
                out.extend(self._delta(delta))
        return out

    def _delta(self, delta: ChoiceDelta) -> list[ModelEvent]:
        out: list[ModelEvent] = []
        extra: dict[str, object] = delta.model_extra or {}
        reasoning = extra.get("reasoning_content") or extra.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            if self.thinking_index is None:
                self.thinking_index = self._claim()
                out.append(BlockStarted(self.thinking_index, "thinking"))
            self.thinking.append(reasoning)
        if delta.content:
            if self.text_index is None:
                self.text_index = self._claim()
                out.append(BlockStarted(self.text_index, "text"))
            self.text.append(delta.content)
            out.append(TextDelta(self.text_index, delta.content))
        for part in delta.tool_calls or []:
            out.extend(self._tool_delta(part))
        return out

    def _tool_delta(self, part: ChoiceDeltaToolCall) -> list[ModelEvent]:
        key = int(part.index or 0)
        call = self.calls.get(key)
        out: list[ModelEvent] = []
        function = part.function
        if call is None:
            call = self.calls[key] = _Call(self._claim())
        if part.id:
            call.id = str(part.id)
        if function is not None and function.name and not call.name:
            call.name = str(function.name)
            out.append(BlockStarted(call.index, "tool_use", call.name))
        if function is not None and function.arguments:
            call.arguments.append(str(function.arguments))
        return out

    def finish(self) -> list[ModelEvent]:
        if self.finish_reason is None:
            raise errors.malformed("the stream ended without a finish_reason")
        done: list[tuple[int, ModelEvent]] = []
        if self.thinking_index is not None:
            done.append(
                (self.thinking_index, BlockFinished(self.thinking_index, Thinking("".join(self.thinking), origin=KIND)))
            )
        if self.text_index is not None:
            done.append((self.text_index, BlockFinished(self.text_index, Text("".join(self.text)))))
        for call in self.calls.values():
            block = ToolUse(
                call.id or f"call_{call.index}", call.name, errors.parse_tool_input("".join(call.arguments))
            )
            done.append((call.index, BlockFinished(call.index, block)))
        events = [event for _, event in sorted(done, key=lambda pair: pair[0])]
        reason = _FINISH.get(self.finish_reason, "end_turn")
        if self.calls and reason == "end_turn":
            reason = "tool_use"
        return [*events, ResponseFinished(reason, self.usage)]


def _usage(raw: CompletionUsage) -> Usage:
    prompt = int(raw.prompt_tokens or 0)
    details = raw.prompt_tokens_details
    cached = int(details.cached_tokens or 0) if details is not None else 0
    return Usage(
        input_tokens=max(0, prompt - cached),
        output_tokens=int(raw.completion_tokens or 0),
        cache_read_input_tokens=cached,
    )

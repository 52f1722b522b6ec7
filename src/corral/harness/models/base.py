"""One small interface in front of every model provider: ``stream(request) -> AsyncIterator[ModelEvent]``.

Invariants every adapter keeps:

* The stream yields, in order: for each content block ``BlockStarted`` → ``TextDelta``* → ``BlockFinished``
  (with the whole, parsed block), then exactly one ``ResponseFinished`` last. Tool inputs arrive only
  complete and parsed inside ``BlockFinished``; unparsable tool JSON is a ``ModelRequestFailed``.
* Every provider failure leaves the adapter as a ``ModelError`` (``ModelOverloaded``,
  ``ModelRateLimited``, ``ModelRequestFailed``) with ``retryable`` and ``retry_after`` set; the adapter
  never retries by itself (the harness does, and records each attempt in the log).
* Adapters hold no session state; one client serves any number of concurrent requests.
* What an adapter keeps for a session's next request goes in the request's ``memo`` (the session's, held by its
  log), and is used only where it still applies: it never changes what is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from corral._types import JSONObject
from corral.harness.models.content import Block, Message

StopReason = Literal["end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal"]
BlockKind = Literal["text", "thinking", "tool_use"]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: JSONObject


@dataclass
class RequestMemo:
    """What adapters assembled from a session's last request, for its next one to continue from (the session's
    ``ContextCache`` holds it). An adapter uses what it kept only for a request whose messages begin with the ones
    it was made from, and otherwise assembles from scratch: a memo never changes what is sent."""

    kept: dict[str, object] = field(default_factory=lambda: dict[str, object]())


@dataclass(frozen=True)
class ModelRequest:
    model: str
    messages: list[Message]
    system: str | None = None
    tools: list[ToolSpec] = field(default_factory=lambda: list[ToolSpec]())
    max_tokens: int = 8192
    #: extended-thinking token budget (None: the provider's default behaviour)
    thinking_budget: int | None = None
    memo: RequestMemo = field(default_factory=RequestMemo, repr=False, compare=False)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def wire(self) -> JSONObject:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


@dataclass(frozen=True)
class BlockStarted:
    index: int
    kind: BlockKind
    #: the tool's name, for ``tool_use`` blocks (lets the harness provision hands speculatively)
    name: str | None = None


@dataclass(frozen=True)
class TextDelta:
    index: int
    text: str


@dataclass(frozen=True)
class BlockFinished:
    index: int
    block: Block


@dataclass(frozen=True)
class ResponseFinished:
    stop_reason: StopReason
    usage: Usage


ModelEvent = BlockStarted | TextDelta | BlockFinished | ResponseFinished


class ModelClient(Protocol):
    """A provider adapter. ``kind`` names the wire protocol (``anthropic`` or ``openai``)."""

    kind: str

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]: ...

    def warm(self) -> None:
        """Do, blocking, what the first request would otherwise do on the event loop (lazy imports)."""
        ...

    async def aclose(self) -> None: ...

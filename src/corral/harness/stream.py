"""One model response: live previews while it streams, then the events that record it.

Invariants:

* Previews are live-only ``Delta``s (api.md §6.4): at most one ``event_start`` per previewed event id,
  ``event_delta`` fragments whose concatenation per ``(event_id, index)`` is a prefix of the final text,
  and all of them published before the buffered event itself is appended (``DeltaPump.drain``).
* Publishing never holds up the model stream: fragments queue in memory and a pump task publishes them,
  merging fragments that queued up meanwhile (fewer notifications under load, same text).
* A response cut short (an interrupt) still ends every preview it started: ``previewed`` gives what was shown,
  which is recorded, so no client is left with a message that never ends.
* The collector only parses: it returns the response's blocks, in content order, with the event ids their
  previews announced. What those blocks become in the log (and which permission a tool call gets) is decided
  in one place, ``harness.response``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, assert_never

import anyio

from corral.harness.models.base import BlockFinished, BlockStarted, ModelEvent, ResponseFinished, TextDelta
from corral.harness.models.content import Block, Text, Thinking, ToolUse
from corral.ids import new_id
from corral.session import EventType

Publish = Callable[[dict[str, Any], EventType], Awaitable[None]]
"""Sends one live-only preview body for the event type it previews (``Writer.preview``)."""


class DeltaPump:
    def __init__(self, publish: Publish):
        self._publish = publish
        self._queue: list[tuple[dict[str, Any], EventType]] = []
        self._ready = anyio.Event()
        self._flushed = anyio.Event()
        self._flushed.set()
        self._closed = False

    def start(self, event_id: str, target: EventType) -> None:
        self._push({"type": "event_start", "event": {"type": target, "id": event_id}}, target)

    def text(self, event_id: str, index: int, text: str) -> None:
        if self._queue:
            last, _ = self._queue[-1]
            if last.get("event_id") == event_id and last["delta"]["index"] == index:
                last["delta"]["content"]["text"] += text
                return
        delta = {"type": "content_delta", "index": index, "content": {"type": "text", "text": text}}
        self._push({"type": "event_delta", "event_id": event_id, "delta": delta}, "agent.message")

    def _push(self, body: dict[str, Any], target: EventType) -> None:
        self._queue.append((body, target))
        if self._flushed.is_set():
            self._flushed = anyio.Event()
        self._ready.set()

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready = anyio.Event()
            while self._queue:
                body, target = self._queue.pop(0)
                await self._publish(body, target)
            self._flushed.set()
            if self._closed:
                return

    async def drain(self) -> None:
        """Wait until everything queued so far is published."""
        await self._flushed.wait()

    def close(self) -> None:
        self._closed = True
        self._ready.set()


@dataclass
class Collector:
    """Accumulates one response from the model's event stream."""

    pump: DeltaPump
    on_tool_start: Callable[[str], None]
    ids: dict[int, str] = field(default_factory=lambda: dict[int, str]())
    kinds: dict[int, str] = field(default_factory=lambda: dict[int, str]())
    texts: dict[int, list[str]] = field(default_factory=lambda: dict[int, list[str]]())
    blocks: dict[int, Block] = field(default_factory=lambda: dict[int, Block]())
    finished: ResponseFinished | None = None
    first_token: bool = False

    def feed(self, event: ModelEvent) -> None:
        match event:
            case BlockStarted():
                self._started(event)
            case TextDelta():
                self.first_token = True
                self.texts.setdefault(event.index, []).append(event.text)
                self.pump.text(self.ids[event.index], 0, event.text)
            case BlockFinished():
                self.blocks[event.index] = event.block
            case ResponseFinished():
                self.finished = event
            case _:
                assert_never(event)

    def _started(self, event: BlockStarted) -> None:
        if event.kind == "tool_use":
            self.on_tool_start(event.name or "")
            return
        event_id = self.ids[event.index] = new_id("event")
        self.kinds[event.index] = event.kind
        self.pump.start(event_id, "agent.message" if event.kind == "text" else "agent.thinking")

    def response(self) -> list[tuple[Block, str | None]]:
        """The finished blocks in content order, each with the event id its previews announced (if any)."""
        return [(self.blocks[index], self.ids.get(index)) for index in sorted(self.blocks)]

    def previewed(self) -> list[tuple[Block, str | None]]:
        """What a client has been shown so far, as blocks (for a response cut short, e.g. by an interrupt):
        finished text and thinking blocks, and every previewed block that has not finished with the text streamed
        for it so far. A previewed thinking block that has not finished is empty (a partial thought has no
        signature, so it can never be sent back to the model). Tool calls not finished are dropped (never shown)."""
        shown: list[tuple[Block, str | None]] = []
        for index in sorted(self.blocks.keys() | self.ids.keys()):
            block = self.blocks.get(index)
            if block is None:
                partial = "".join(self.texts.get(index, ()))
                block = Text(partial) if self.kinds.get(index) == "text" else Thinking("", origin="")
            if not isinstance(block, ToolUse):
                shown.append((block, self.ids.get(index)))
        return shown

"""One model response: live previews while it streams, then the events that record it.

Invariants:

* Previews are live-only ``Delta``s (api.md §6.4): at most one ``event_start`` per previewed event id,
  ``event_delta`` fragments whose concatenation per ``(event_id, index)`` is a prefix of the final text,
  and all of them published before the buffered event itself is appended (``DeltaPump.drain``).
* Publishing never holds up the model stream: fragments queue in memory and a pump task publishes them,
  merging fragments that queued up meanwhile (fewer notifications under load, same text).
* The recorded events come in content order: ``agent.thinking`` / ``agent.message`` / tool-use events,
  each text block one ``agent.message`` whose id is the one its previews announced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from corral._types import JSONObject
from corral.harness.agent import AgentConfig
from corral.harness.models.base import BlockFinished, BlockStarted, ModelEvent, ResponseFinished, TextDelta
from corral.harness.models.content import Block, Text, Thinking, ToolUse
from corral.ids import new_id
from corral.session import Delta, NewEvent, SessionStore


class DeltaPump:
    def __init__(self, store: SessionStore, session_id: str):
        self._store = store
        self._session_id = session_id
        self._queue: list[tuple[JSONObject, str]] = []
        self._ready = anyio.Event()
        self._flushed = anyio.Event()
        self._flushed.set()
        self._closed = False

    def start(self, event_id: str, target: str) -> None:
        self._push({"type": "event_start", "event": {"type": target, "id": event_id}}, target)

    def text(self, event_id: str, index: int, text: str) -> None:
        if self._queue:
            last, _ = self._queue[-1]
            if last.get("event_id") == event_id and last["delta"]["index"] == index:
                last["delta"]["content"]["text"] += text
                return
        delta = {"type": "content_delta", "index": index, "content": {"type": "text", "text": text}}
        self._push({"type": "event_delta", "event_id": event_id, "delta": delta}, "agent.message")

    def _push(self, body: JSONObject, target: str) -> None:
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
                await self._store.publish_delta(Delta(self._session_id, body), target)
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
    blocks: dict[int, Block] = field(default_factory=lambda: dict[int, Block]())
    finished: ResponseFinished | None = None
    first_token: bool = False

    def feed(self, event: ModelEvent) -> None:
        if isinstance(event, BlockStarted):
            self._started(event)
        elif isinstance(event, TextDelta):
            self.first_token = True
            self.pump.text(self.ids[event.index], 0, event.text)
        elif isinstance(event, BlockFinished):
            self.blocks[event.index] = event.block
        else:
            self.finished = event

    def _started(self, event: BlockStarted) -> None:
        if event.kind == "tool_use":
            self.on_tool_start(event.name or "")
            return
        event_id = self.ids[event.index] = new_id("event")
        self.pump.start(event_id, "agent.message" if event.kind == "text" else "agent.thinking")

    def events(self, agent: AgentConfig, client_runs: frozenset[str] = frozenset()) -> list[NewEvent]:
        """The response as log events (without the closing ``span.model_request_end``).

        ``client_runs``: built-in tools the client's own worker runs (``self_hosted`` environments); their calls
        carry ``executor: "client"`` and wait for a ``user.tool_result``.
        """
        out: list[NewEvent] = []
        for index in sorted(self.blocks):
            block = self.blocks[index]
            if isinstance(block, Text) and block.text:
                content = [{"type": "text", "text": block.text}]
                out.append(NewEvent("agent.message", {"content": content}, id=self.ids.get(index)))
            elif isinstance(block, Thinking):
                out.append(NewEvent("agent.thinking", _thinking(block), id=self.ids.get(index)))
            elif isinstance(block, ToolUse):
                out.append(_tool_use(block, agent, client_runs))
        return out


def _thinking(block: Thinking) -> JSONObject:
    data: JSONObject = {"thinking": block.text, "origin": block.origin}
    if block.signature is not None:
        data["signature"] = block.signature
    if block.redacted is not None:
        data["redacted"] = block.redacted
    return data


def _tool_use(block: ToolUse, agent: AgentConfig, client_runs: frozenset[str]) -> NewEvent:
    verdict = agent.classify(block.name)
    data: JSONObject = {"name": block.name, "input": block.input}
    if verdict.permission is not None:
        data["evaluated_permission"] = verdict.permission
    if verdict.evaluation is not None:
        data["evaluation"] = verdict.evaluation
    if verdict.permission in ("allow", "ask") and block.name in client_runs:
        data["executor"] = "client"
    return NewEvent(verdict.event_type, data)

"""The model's context: a pure function of the session log (plus the latest compaction, itself an event).

Invariants:

* ``build_messages`` never reads or writes anything; the same events give the same messages. Compaction
  and trimming are views: the log is never rewritten.
* The messages alternate user / assistant and every tool use is answered in the user message right after
  it, in call order, before any user text; a call without a result in the log (abandoned by an
  interrupt) is answered by a synthetic error result, so every provider accepts the history.
* A ``user.message`` written while a model request was open (its ``seq`` lies between the request's
  start and end) was not seen by that request: it is placed after the response, where it was taken up.
* Tool use ids in the context are the ids of the log events that carry the calls, so results and
  sandbox journals match whatever provider produced the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from corral.harness.mcp_names import model_tool_name
from corral.harness.models.content import Block, Message, Role, Text, Thinking, ToolOutput, ToolUse, blocks_from_wire
from corral.harness.outcomes import is_outcome_input, outcome_text
from corral.harness.thread_events import cross_posted
from corral.session import Event
from corral.vocab.events import RESULT_KEYS, TOOL_USE_TYPES, answered_call

MISSING_RESULT = "This tool call was not completed: the turn was interrupted before it returned a result."
SUMMARY_PREAMBLE = (
    "This session continues an earlier conversation that was compacted to fit the context window. "
    "Summary of the earlier part:\n\n"
)


@dataclass(frozen=True)
class Compaction:
    """The latest ``agent.thread_context_compacted``: its summary stands for the log up to ``through_seq``."""

    summary: str
    through_seq: int
    #: the compaction event's own position
    seq: int


def build_messages(events: Sequence[Event], compaction: Compaction | None = None) -> list[Message]:
    """The conversation as the model should see it now."""
    builder = ContextBuilder.after(compaction)
    for event in events:
        if event.seq > builder.through:
            builder.add(event)
    return builder.finish()


def assistant_block(event: Event) -> list[Block]:
    """The assistant-side blocks one log event contributes."""
    data = event.data()
    if event.type == "agent.message":
        return [block for block in blocks_from_wire(data.get("content")) if isinstance(block, Text) and block.text]
    if event.type == "agent.thinking":
        text, redacted = str(data.get("thinking") or ""), data.get("redacted")
        if not text and redacted is None:
            return []
        return [Thinking(text, data.get("signature"), redacted, str(data.get("origin") or ""))]
    name = str(data.get("name"))
    if event.type == "agent.mcp_tool_use":  # the model knows it by its MCP name (``harness.mcp``)
        name = model_tool_name(str(data.get("mcp_server_name")), name)
    return [ToolUse(event.id, name, dict(data.get("input") or {}))]


@dataclass
class ContextBuilder:
    """``build_messages`` one event at a time. Only the last of ``messages`` is ever replaced (by a longer one of
    the same role); the others, once there, stay as they are (``context_cache`` relies on it)."""

    messages: list[Message] = field(default_factory=lambda: list[Message]())
    assistant: list[Block] = field(default_factory=lambda: list[Block]())
    results: dict[str, ToolOutput | None] = field(default_factory=lambda: dict[str, ToolOutput | None]())
    user: list[Block] = field(default_factory=lambda: list[Block]())
    system: list[Block] = field(default_factory=lambda: list[Block]())
    deferred: list[Block] = field(default_factory=lambda: list[Block]())
    in_span: bool = False
    answered: bool = False  # user-side content arrived since the last assistant block
    #: events up to here are the compaction's summary (never added)
    through: int = 0

    @classmethod
    def after(cls, compaction: Compaction | None) -> ContextBuilder:
        """A builder whose context starts with ``compaction``'s summary (and skips what it stands for)."""
        if compaction is None:
            return cls()
        return cls(user=[Text(SUMMARY_PREAMBLE + compaction.summary)], through=compaction.through_seq)

    def add(self, event: Event) -> None:
        kind = event.type
        if kind == "span.model_request_start":
            self._close_span()  # a span left open by a failure ends where the next one starts
            self.in_span = True
        elif kind in ("span.model_request_end", "session.status_idle"):
            self._close_span()
        elif kind in ("agent.message", "agent.thinking", *TOOL_USE_TYPES) and not cross_posted(event):
            self._assistant_side(assistant_block(event))
        elif kind in RESULT_KEYS:
            self._result(event, kind)
        elif kind == "user.message" or is_outcome_input(event):
            blocks: list[Block] = list(
                blocks_from_wire(event.data().get("content")) if kind == "user.message" else outcome_text(event)
            )
            if self.in_span:
                self.deferred.extend(blocks)
            else:
                self._user_side(blocks)
        elif kind == "system.message":
            self.system.extend(blocks_from_wire(event.data().get("content")))

    def _close_span(self) -> None:
        self.in_span = False
        self._user_side(self.deferred)
        self.deferred = []

    def _assistant_side(self, blocks: list[Block]) -> None:
        if not blocks:
            return
        if self.answered:
            self._flush()
        self.assistant.extend(blocks)
        for block in blocks:
            if isinstance(block, ToolUse):
                self.results[block.id] = None

    def _user_side(self, blocks: list[Block]) -> None:
        if blocks:
            self.user.extend(blocks)
            self.answered = True

    def _result(self, event: Event, kind: str) -> None:
        data = event.data()
        tool_use_id = answered_call(kind, data)
        if tool_use_id in self.results:
            content = blocks_from_wire(data.get("content"))
            self.results[tool_use_id] = ToolOutput(tool_use_id, content, bool(data.get("is_error")))
            self.answered = True

    def _flush(self) -> None:
        self._append("assistant", self.assistant)
        answers: list[Block] = [
            out or ToolOutput(call_id, [Text(MISSING_RESULT)], is_error=True) for call_id, out in self.results.items()
        ]
        self._append("user", answers + self.user)
        self._append("system", self.system)
        self.assistant, self.results, self.user, self.system = [], {}, [], []
        self.answered = False

    def _append(self, role: Role, blocks: list[Block]) -> None:
        if not blocks:
            return
        if self.messages and self.messages[-1].role == role:
            self.messages[-1] = Message(role, [*self.messages[-1].content, *blocks])
        else:
            self.messages.append(Message(role, list(blocks)))

    def finish(self) -> list[Message]:
        self._close_span()
        self._flush()
        return self.messages

    def peek(self) -> list[Message]:
        """What ``finish`` would return now, leaving this builder as it is (it may go on adding events)."""
        closed, last = self.messages[:-1], self.messages[-1:]
        rest = ContextBuilder(
            last, list(self.assistant), dict(self.results), list(self.user), list(self.system), list(self.deferred)
        )
        rest.in_span, rest.answered = self.in_span, self.answered
        return closed + rest.finish()

"""Compaction: when the context would not fit the model's window, older events are summarised.

Invariants:

* Compaction is a view. The summary is stored in an ``agent.thread_context_compacted`` event (extra fields
  ``summary``, ``through_seq``, ``method``); later contexts are built from the latest summary plus the events
  after ``through_seq``; the log stays intact and can always be re-read.
* A cut never separates a tool use from its result: it falls just before a ``span.model_request_start`` or
  before a ``user.message`` written while no call was open; and never after the latest ``user.message``,
  which stays verbatim (if it alone does not fit, the turn fails with ``compaction_limit_reached_error``).
* If the summarising request would itself overflow the window, compaction degrades to truncation: the
  events up to the cut are dropped from the view with a note saying so (``method: "truncation"``).
* Planning is pure; the harness runs the summarising request and writes the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from corral.harness.context import Compaction, build_messages
from corral.harness.models.base import ToolSpec
from corral.harness.models.content import Image, Message, Text, ToolOutput, text_of
from corral.session import Event
from corral.vocab.events import RESULT_KEYS, TOOL_USE_TYPES, answered_call

#: compact once the estimated request exceeds this share of the window (room stays for the answer)
TRIGGER = 0.75
#: after compaction, the verbatim tail should take at most this share of the window
TAIL = 0.3
#: output budget of the summarising request (and at most a quarter of the window)
SUMMARY_MAX_TOKENS = 4096
IMAGE_TOKENS = 1600

SUMMARY_SYSTEM = (
    "You compact conversations between a user and an AI agent. Summarize the conversation so far so that the "
    "agent can continue the work without it: the user's goals and instructions, decisions taken, facts learned, "
    "files and commands involved, tool results that still matter, and what remains to be done. Be concise and "
    "concrete; write the summary only."
)
SUMMARY_INSTRUCTION = "Summarize the conversation above for the agent that will continue it."


@dataclass(frozen=True)
class Plan:
    through_seq: int
    #: the summarising request's messages, or None when it would not fit (truncate instead)
    messages: list[Message] | None
    truncated_summary: str


def estimate_tokens(messages: Sequence[Message], system: str | None = None, tools: Sequence[ToolSpec] = ()) -> int:
    """A provider-independent estimate (about four characters per token; images at a flat rate)."""
    chars, images = preamble_chars(system, tools), 0
    for message in messages:
        size = message_size(message)
        chars, images = chars + size[0], images + size[1]
    return tokens_of(chars, images)


def preamble_chars(system: str | None, tools: Sequence[ToolSpec]) -> int:
    """What the system prompt and the tool definitions add to ``estimate_tokens``, in characters."""
    return len(system or "") + sum(len(t.description) + len(str(t.input_schema)) for t in tools)


def message_size(message: Message) -> tuple[int, int]:
    """One message's share of ``estimate_tokens``: its characters and its images."""
    images = 0
    for block in message.content:
        parts = block.content if isinstance(block, ToolOutput) else [block]
        images += sum(1 for part in parts if isinstance(part, Image))
    return len(text_of(message.content)) + 8, images


def tokens_of(chars: int, images: int) -> int:
    return chars // 4 + images * IMAGE_TOKENS


def needs_compaction(tokens: int, window: int) -> bool:
    return tokens > window * TRIGGER


def summary_budget(window: int) -> int:
    return min(SUMMARY_MAX_TOKENS, window // 4)


def cut_points(events: Sequence[Event], after_seq: int) -> list[int]:
    """Positions ``c`` such that a view may start at ``c`` (everything before it summarised)."""
    points: list[int] = []
    open_calls: set[str] = set()
    in_span = False
    newest_input = 0
    for event in events:
        if event.type == "user.message":
            newest_input = event.seq
        if event.seq <= after_seq:
            continue
        if event.type == "span.model_request_start":
            if event.data().get("purpose") != "compaction":
                points.append(event.seq)
            in_span = True
        elif event.type == "span.model_request_end":
            in_span = False
        elif event.type in TOOL_USE_TYPES:
            open_calls.add(event.id)
        elif event.type in RESULT_KEYS:
            open_calls.discard(str(answered_call(event.type, event.data())))
        elif event.type == "user.message" and not open_calls and not in_span:
            points.append(event.seq)
    return [point for point in points if after_seq < point - 1 and point <= newest_input]


def plan(events: Sequence[Event], compaction: Compaction | None, window: int) -> Plan | None:
    """Where to cut and what to ask the model; None when there is nothing left to compact."""
    after = compaction.through_seq if compaction else 0
    points = cut_points(events, after)
    if not points:
        return None
    cut = _choose(events, points, window)
    head = [event for event in events if event.seq < cut]
    messages = build_messages(head, compaction)
    note = f"(The earlier part of this conversation, up to event {cut - 1}, was dropped to fit the context window.)"
    previous = compaction.summary if compaction else ""
    truncated = f"{previous}\n\n{note}" if previous else note
    request = _with_instruction(messages)
    if estimate_tokens(request, SUMMARY_SYSTEM) + summary_budget(window) > window:
        return Plan(cut - 1, None, truncated)
    return Plan(cut - 1, request, truncated)


def _choose(events: Sequence[Event], points: list[int], window: int) -> int:
    """The earliest cut whose verbatim tail fits ``TAIL`` of the window, else the latest cut."""
    budget = window * TAIL
    tail = 0
    sizes: dict[int, int] = {}
    for event in reversed(events):
        tail += len(event.payload) // 4
        sizes[event.seq] = tail
    for point in points:
        if sizes.get(point, 0) <= budget:
            return point
    return points[-1]


def _with_instruction(messages: list[Message]) -> list[Message]:
    instruction = Text(SUMMARY_INSTRUCTION)
    if messages and messages[-1].role == "user":
        return [*messages[:-1], Message("user", [*messages[-1].content, instruction])]
    return [*messages, Message("user", [instruction])]

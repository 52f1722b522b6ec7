"""The extension points of a turn: small typed protocols and the values they exchange (version ``API_VERSION``).

Published as ``corral.extend``; the harness calls them at one seam each:

* ``ContextStrategy.build(ContextView) -> BuiltContext``: the model's messages (and system prompt) for a request.
  Its ``notes`` are recorded on the request's ``span.model_request_start`` (``context.notes``) and handed back,
  merged in log order, in every later ``ContextView.notes``: what a strategy summarised or retrieved is in the log,
  so after a crash it rebuilds the same context from it.
* ``CompactionPolicy``: whether a request must be compacted first (``should_compact``) and where to cut and what
  to ask the summarising request (``plan``); the harness runs the plan and records the summary as
  ``agent.thread_context_compacted``, a view: the log itself is never rewritten.
* ``ModelRouter.route(RouteRequest) -> Route``: the model (``<provider>:<model>`` or ``claude-…``) of a request,
  recorded as the span's ``model`` with ``routed_by``.
* ``ServerTool``: a tool the model may call, run by the harness (``run``), exactly once per ``tool_use_id``
  through the same journal as sandbox calls, under the permission policy the agent set for it.
* ``TurnObserver.reached(TurnPoint)``: read-only, at the turn's named points (``POINTS``).

Rules every extension keeps (and the harness enforces where it can): it writes the log only through what it
returns (notes, a plan, a route, a tool result); it holds no per-session state (a worker that takes a session
over after a crash calls it afresh, from the log); it never blocks the event loop (run blocking work with
``anyio.to_thread``); an exception it raises becomes a ``session.error`` naming it, never a stuck session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, get_args

from corral._types import JSONObject
from corral.harness.compaction import Plan
from corral.harness.context import Compaction, build_messages
from corral.harness.models.content import Message
from corral.sandbox import ToolResult
from corral.session import Event

API_VERSION: Final = 1
"""Bumped when a protocol or value here changes incompatibly; an extension may check it at import."""

PointName = Literal[
    "model_request_started",
    "first_token",
    "response_recorded",
    "tool_started",
    "tool_recorded",
    "turn_idle",
    "context_built",
    "tool_ran",
]
POINTS: Final[tuple[PointName, ...]] = get_args(PointName)

Factory = Callable[[JSONObject], Any]
"""What an entry point names: called once per distinct ``options`` (off the event loop), it returns the extension."""


@dataclass(frozen=True)
class ContextView:
    """What a context strategy may read: the session's log (never to be written), and corral's own view of it."""

    session_id: str
    #: the session's events, oldest first (the log is the only truth)
    events: Sequence[Event]
    #: the latest compaction (its summary stands for the log up to ``through_seq``), if any
    compaction: Compaction | None
    #: the agent's system prompt as corral built it (skills and memory sections included)
    system: str | None
    #: what this strategy recorded earlier in the session (``BuiltContext.notes``), later notes winning
    notes: Mapping[str, Any]
    #: how ``default_messages`` are built: ``build_messages`` or a cache of it (the harness's ``ContextCache``)
    builder: Callable[[Sequence[Event], Compaction | None], list[Message]] = field(
        default=build_messages, repr=False, compare=False
    )

    def default_messages(self) -> list[Message]:
        """The messages corral's default strategy builds (compaction applied): a starting point to refine. The
        messages are shared with later requests: refine the list, never a message in place."""
        return self.builder(self.events, self.compaction)


@dataclass(frozen=True)
class BuiltContext:
    messages: list[Message]
    system: str | None
    #: JSON recorded on the request's span start and returned in later ``ContextView.notes``
    notes: JSONObject = field(default_factory=lambda: JSONObject())


class ContextStrategy(Protocol):
    async def build(self, view: ContextView) -> BuiltContext: ...


class CompactionPolicy(Protocol):
    def should_compact(self, tokens: int, window: int) -> bool:
        """Whether a request of about ``tokens`` must be compacted first, for a model of ``window`` tokens."""
        ...

    def plan(self, events: Sequence[Event], compaction: Compaction | None, window: int) -> Plan | None:
        """Where to cut and what to ask; None: nothing left to compact (the turn then gives up)."""
        ...


@dataclass(frozen=True)
class RouteRequest:
    session_id: str
    #: the agent's own model id (what runs when no router is selected)
    agent_model: str
    #: the session's events, oldest first
    events: Sequence[Event]
    #: the request answers tool results (rather than a user's message)
    after_tool_results: bool
    #: the request's estimated size in tokens
    tokens: int


@dataclass(frozen=True)
class Route:
    #: a model id as an agent's ``model.id`` is written (``claude-…``, ``<provider>:<model>``)
    model: str
    #: why, for the record (``span.model_request_start``'s ``routed_by.reason``)
    reason: str | None = None


class ModelRouter(Protocol):
    async def route(self, request: RouteRequest) -> Route: ...


@dataclass(frozen=True)
class ToolInvocation:
    session_id: str
    #: the key of the exactly-once journal: a tool with outside effects should make them idempotent by it
    tool_use_id: str
    input: JSONObject


class ServerTool(Protocol):
    """A tool run beside the harness. ``input_schema`` is a JSON Schema object, as for a custom tool."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def input_schema(self) -> JSONObject: ...

    async def run(self, call: ToolInvocation) -> ToolResult: ...


@dataclass(frozen=True)
class TurnPoint:
    name: PointName
    session_id: str


class TurnObserver(Protocol):
    async def reached(self, point: TurnPoint) -> None: ...

"""``corral.extend``: put your harness logic inside corral's loop, as an ordinary Python package (API version 1).

An extension package depends on this module only (import-linter holds corral's own examples to it). It declares
entry points in its ``pyproject.toml``, one group per kind, each naming a *factory*: a callable taking the
``options`` an agent selected it with (a JSON object, ``{}`` when none) and returning the extension. Factories run
once per distinct options per worker process, in a worker thread (they may read files); the instance then
serves every session that selects it, so it keeps no per-session state.

=========================  ===============================  =================================================
kind (agent field)         entry-point group                the factory returns
=========================  ===============================  =================================================
``context_strategy``       ``corral.context_strategies``    a ``ContextStrategy``
``compaction_policy``      ``corral.compaction_policies``   a ``CompactionPolicy``
``model_router``           ``corral.model_routers``         a ``ModelRouter``
``tools``                  ``corral.server_tools``          a ``ServerTool``
``observers``              ``corral.turn_observers``        a ``TurnObserver``
=========================  ===============================  =================================================

An agent selects them by name in its ``corral`` object (a corral extension of the agent; the official SDK sends
it with ``extra_body``)::

    client.beta.agents.create(name=..., model=..., extra_body={"corral": {"extensions": {
        "context_strategy": {"name": "retrieval", "options": {"index": "/srv/notes.json"}},
        "model_router": {"name": "cost_aware", "options": {"cheap": "openai:small", "strong": "claude-opus-4-1"}},
        "tools": [{"name": "search_notes", "permission_policy": {"type": "always_allow"}}],
    }}})

A name that is not installed is refused with a 400 when the agent is written. ``default`` names corral's own
implementation (``DefaultContext``, ``DefaultCompaction``, ``DefaultRouter``), which an agent runs for every kind
it leaves out; tools and observers have none.

The contract (what the harness guarantees, and what an extension must keep):

* **The log is the only truth, and only the harness writes it.** An extension reads the session's events and
  returns values; the harness records what it must: a context strategy's ``BuiltContext.notes`` and a router's
  choice on the request's ``span.model_request_start`` (``context``, ``routed_by``), a compaction as
  ``agent.thread_context_compacted``, a tool's ``ToolResult`` as ``agent.tool_result``.
* **Woken from the log.** After a crash (``kill -9``) another worker continues the turn from the log and calls
  the extensions again: a strategy finds its earlier notes in ``ContextView.notes``; a server-side tool runs at
  most once per ``tool_use_id`` (a journal: a call that finished returns its recorded result, one cut short by
  the crash is answered ``interrupted`` and not run again).
* **Never block the event loop.** Protocol methods are coroutines (``CompactionPolicy``'s are pure and quick);
  do blocking work with ``anyio.to_thread.run_sync``.
* **Fail loudly, never stick.** An exception from a context strategy, compaction policy or router ends the turn
  with a ``session.error`` naming the extension (then idle, ``retries_exhausted``); from a tool, it is the call's
  error result plus a ``session.error`` naming it, and the turn goes on; from an observer, a ``session.error``
  naming it, and the turn goes on.

``TurnObserver`` receives the turn's named points (``POINTS``) for its agent's sessions; the process-wide hook
of the composition root (``corral.harness.Hook``, used by tests to crash a worker on cue) sees the same points.
"""

from corral.harness.compaction import Plan as CompactionPlan
from corral.harness.compaction import estimate_tokens
from corral.harness.context import Compaction
from corral.harness.extensions.defaults import DefaultCompaction, DefaultContext, DefaultRouter
from corral.harness.extensions.points import (
    API_VERSION,
    POINTS,
    BuiltContext,
    CompactionPolicy,
    ContextStrategy,
    ContextView,
    Factory,
    ModelRouter,
    PointName,
    Route,
    RouteRequest,
    ServerTool,
    ToolInvocation,
    TurnObserver,
    TurnPoint,
)
from corral.harness.models.content import Block, Document, Image, Message, Text, Thinking, ToolOutput, ToolUse
from corral.sandbox import ToolResult
from corral.session import Event

__all__ = [
    "API_VERSION",
    "POINTS",
    "Block",
    "BuiltContext",
    "Compaction",
    "CompactionPlan",
    "CompactionPolicy",
    "ContextStrategy",
    "ContextView",
    "DefaultCompaction",
    "DefaultContext",
    "DefaultRouter",
    "Document",
    "Event",
    "Factory",
    "Image",
    "Message",
    "ModelRouter",
    "PointName",
    "Route",
    "RouteRequest",
    "ServerTool",
    "Text",
    "Thinking",
    "ToolInvocation",
    "ToolOutput",
    "ToolResult",
    "ToolUse",
    "TurnObserver",
    "TurnPoint",
    "estimate_tokens",
]

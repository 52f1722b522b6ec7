"""corral's own implementations of the extension points: what a turn runs when an agent selects nothing.

Each is the harness's behaviour exactly as it was before extensions existed (``context.build_messages``,
``compaction.needs_compaction`` / ``compaction.plan``, the agent's model), so an agent without a ``corral`` object
behaves as before; they are named ``default`` and an agent may select them by that name.
"""

from __future__ import annotations

from collections.abc import Sequence

from corral.harness import compaction as compacting
from corral.harness.compaction import Plan
from corral.harness.context import Compaction
from corral.harness.extensions.points import BuiltContext, ContextView, Route, RouteRequest
from corral.session import Event


class DefaultContext:
    """The whole log as messages (after the latest compaction's summary), the agent's system prompt as is."""

    async def build(self, view: ContextView) -> BuiltContext:
        return BuiltContext(view.default_messages(), view.system)


class DefaultCompaction:
    """Compact past ``compaction.TRIGGER`` of the window, cutting where ``compaction.plan`` says."""

    def should_compact(self, tokens: int, window: int) -> bool:
        return compacting.needs_compaction(tokens, window)

    def plan(self, events: Sequence[Event], compaction: Compaction | None, window: int) -> Plan | None:
        return compacting.plan(events, compaction, window)


class DefaultRouter:
    """The agent's own model, for every request."""

    async def route(self, request: RouteRequest) -> Route:
        return Route(request.agent_model)

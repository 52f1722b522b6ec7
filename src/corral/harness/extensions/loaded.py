"""The extensions of one turn, loaded: every call into one goes through here, so a raise names it.

Invariants:

* Each call of an extension is guarded: an exception (or a value of the wrong type) becomes ``ExtensionFailed``
  naming the extension's kind and name; cancellation passes through untouched.
* What a strategy or router decided is recorded on the request's ``span.model_request_start`` (``span_fields``):
  ``context: {strategy, notes}`` when a strategy other than ``default`` ran or left notes, ``routed_by: {router,
  agent_model, reason}`` when a router other than ``default`` chose. ``notes`` reads them back from the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from corral._types import JSONObject, json_object
from corral.harness.compaction import Plan
from corral.harness.context import Compaction
from corral.harness.extensions.defaults import DefaultCompaction, DefaultContext, DefaultRouter
from corral.harness.extensions.points import (
    BuiltContext,
    CompactionPolicy,
    ContextStrategy,
    ContextView,
    ModelRouter,
    Route,
    RouteRequest,
    TurnObserver,
)
from corral.harness.extensions.selection import Choice, ExtensionFailed, Selection, conforming
from corral.harness.extensions.tools import ExtensionTool
from corral.harness.models.base import ToolSpec
from corral.session import Event
from corral.vocab.extensions import DEFAULT

T = TypeVar("T")


@dataclass
class Extensions:
    selection: Selection
    context: ContextStrategy = field(default_factory=DefaultContext)
    compaction: CompactionPolicy = field(default_factory=DefaultCompaction)
    router: ModelRouter = field(default_factory=DefaultRouter)
    #: by the name the model calls them
    tools: dict[str, ExtensionTool] = field(default_factory=lambda: dict[str, ExtensionTool]())
    observers: tuple[tuple[Choice, TurnObserver], ...] = ()

    @classmethod
    def defaults(cls) -> Extensions:
        return cls(Selection.from_snapshot({}))

    # ------------------------------------------------------------------ context and compaction

    def notes(self, events: Sequence[Event]) -> dict[str, Any]:
        """What the selected strategy recorded on earlier requests of the session, later notes winning."""
        name = self.selection.context_strategy.name
        merged: dict[str, Any] = {}
        for event in events:
            notes = recorded_notes(event, name)
            if notes is not None:
                merged.update(notes)
        return merged

    async def build_context(self, view: ContextView) -> BuiltContext:
        built = conforming(
            await self._guard(self.selection.context_strategy, lambda: self.context.build(view)), BuiltContext
        )
        if built is None:
            raise ExtensionFailed(
                "context_strategy", self.selection.context_strategy.name, "build() returned no BuiltContext"
            )
        return built

    def should_compact(self, tokens: int, window: int) -> bool:
        choice = self.selection.compaction_policy
        return bool(self._guard_sync(choice, lambda: self.compaction.should_compact(tokens, window)))

    def plan(self, events: Sequence[Event], compaction: Compaction | None, window: int) -> Plan | None:
        return self._guard_sync(
            self.selection.compaction_policy, lambda: self.compaction.plan(events, compaction, window)
        )

    # ------------------------------------------------------------------ routing

    async def route(self, request: RouteRequest) -> Route:
        choice = self.selection.model_router
        route = conforming(await self._guard(choice, lambda: self.router.route(request)), Route)
        if route is None or not route.model:
            raise ExtensionFailed("model_router", choice.name, "route() returned no Route with a model")
        return route

    def span_fields(self, built: BuiltContext, route: Route, agent_model: str) -> JSONObject:
        fields: JSONObject = {}
        strategy = self.selection.context_strategy.name
        if strategy != DEFAULT or built.notes:
            fields["context"] = {"strategy": strategy, "notes": dict(built.notes)}
        router = self.selection.model_router.name
        if router != DEFAULT:
            fields["routed_by"] = {"router": router, "agent_model": agent_model, "reason": route.reason}
        return fields

    # ------------------------------------------------------------------ tools

    @property
    def specs(self) -> list[ToolSpec]:
        return [tool.spec for tool in self.tools.values()]

    @property
    def policies(self) -> dict[str, str]:
        return {name: tool.choice.policy for name, tool in self.tools.items()}

    def take_tool_failures(self) -> list[ExtensionFailed]:
        failures: list[ExtensionFailed] = []
        for tool in self.tools.values():
            failures += tool.failures
            tool.failures = []
        return failures

    # ------------------------------------------------------------------ guards

    @staticmethod
    async def _guard(choice: Choice, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except ExtensionFailed:
            raise
        except Exception as exc:
            raise ExtensionFailed.of(choice.kind, choice.name, exc) from exc

    @staticmethod
    def _guard_sync(choice: Choice, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as exc:
            raise ExtensionFailed.of(choice.kind, choice.name, exc) from exc


def recorded_notes(event: Event, strategy: str) -> JSONObject | None:
    """The notes a context strategy named ``strategy`` recorded on ``event`` (a request's span start), if any."""
    if event.type != "span.model_request_start":
        return None
    context = json_object(event.data().get("context"))
    if context is None or context.get("strategy") != strategy:
        return None
    return json_object(context.get("notes")) or {}

"""``ExtensionHost``: what a worker process keeps for extensions (shared by every session it drives).

* Instances: an entry point is loaded, and its factory called with an ``options``, once per process, in a worker
  thread (imports and factories may read files: never on the event loop); the instance then serves every session
  that selects the same name and options, so it must keep no per-session state (the log is the state).
* The server-side tools' exactly-once journal (``tools``), under the worker's data directory.
* Turn observers: a turn registers its session's observers while it runs (``watch``); ``notify`` calls them at
  each named point. An observer that raises is logged and kept (``take_failures``) for the turn to report as a
  ``session.error`` naming it; the turn goes on (an observer is read-only, it cannot end a turn).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

import anyio
import anyio.to_thread

from corral.harness.extensions.defaults import DefaultCompaction, DefaultContext, DefaultRouter
from corral.harness.extensions.loaded import Extensions
from corral.harness.extensions.points import (
    POINTS,
    CompactionPolicy,
    ContextStrategy,
    ModelRouter,
    ServerTool,
    TurnObserver,
    TurnPoint,
)
from corral.harness.extensions.selection import Choice, ExtensionFailed, Selection, conforming
from corral.harness.extensions.tools import ExtensionTool, Reached
from corral.sandbox.journal import ToolJournal
from corral.vocab.extensions import DEFAULT, entry_points_of

log = logging.getLogger("corral.harness")
_DEFAULTS = {"context_strategy": DefaultContext, "compaction_policy": DefaultCompaction, "model_router": DefaultRouter}
#: the method each kind must have (a factory that returns something else is a failure naming it)
_METHOD = {
    "context_strategy": "build",
    "compaction_policy": "plan",
    "model_router": "route",
    "tools": "run",
    "observers": "reached",
}


class ExtensionHost:
    def __init__(self, journal_root: Path | None = None):
        #: None: this process keeps no journal, so it runs no server-side tool of an extension
        self.journal = ToolJournal(journal_root) if journal_root is not None else None
        self._instances: dict[tuple[str, str, str], object] = {}
        self._lock = anyio.Lock()
        self._watching: dict[str, tuple[tuple[Choice, TurnObserver], ...]] = {}
        self._failures: dict[str, list[ExtensionFailed]] = {}

    async def load(self, selection: Selection, reached: Reached) -> Extensions:
        """The selected extensions, ready to call; ``ExtensionFailed`` naming the first that cannot be had."""
        loaded = Extensions(
            selection,
            context=cast(ContextStrategy, await self._instance(selection.context_strategy)),
            compaction=cast(CompactionPolicy, await self._instance(selection.compaction_policy)),
            router=cast(ModelRouter, await self._instance(selection.model_router)),
        )
        for choice in selection.tools:
            tool = await self._tool(choice, reached)
            if tool.tool.name in loaded.tools:
                raise ExtensionFailed(
                    "tools", choice.name, f"another selected tool is already named {tool.tool.name!r}"
                )
            loaded.tools[tool.tool.name] = tool
        observers: list[tuple[Choice, TurnObserver]] = []
        for choice in selection.observers:
            observers.append((choice, cast(TurnObserver, await self._instance(choice))))
        loaded.observers = tuple(observers)
        return loaded

    async def _tool(self, choice: Choice, reached: Reached) -> ExtensionTool:
        if self.journal is None:
            raise ExtensionFailed("tools", choice.name, "this worker keeps no tool journal, so it runs no such tool")
        tool = cast(ServerTool, await self._instance(choice))
        shape = (tool.name, tool.description, tool.input_schema)  # what the tool claims, checked
        if any(conforming(value, kind) is None for value, kind in zip(shape, (str, str, dict), strict=True)):
            raise ExtensionFailed("tools", choice.name, "name, description and input_schema must be str, str, dict")
        return ExtensionTool(choice, tool, self.journal, reached)

    async def _instance(self, choice: Choice) -> object:
        async with self._lock:  # one load per name and options, however many sessions start at once
            found = self._instances.get(choice.key)
            if found is None:
                found = self._instances[choice.key] = await self._make(choice)
            return found

    async def _make(self, choice: Choice) -> object:
        if choice.name == DEFAULT and choice.kind in _DEFAULTS:
            return _DEFAULTS[choice.kind]()
        entry = entry_points_of(choice.kind).get(choice.name)
        if entry is None:
            raise ExtensionFailed(choice.kind, choice.name, "it is not installed on this worker")
        try:
            factory = await anyio.to_thread.run_sync(entry.load)
            made: object = await anyio.to_thread.run_sync(factory, dict(choice.options))
        except Exception as exc:
            raise ExtensionFailed.of(choice.kind, choice.name, exc) from exc
        if not callable(getattr(made, _METHOD[choice.kind], None)):
            raise ExtensionFailed(choice.kind, choice.name, f"its factory made no object with {_METHOD[choice.kind]}()")
        return made

    # ------------------------------------------------------------------ observers

    def watch(self, session_id: str, extensions: Extensions) -> None:
        if extensions.observers:
            self._watching[session_id] = extensions.observers
        else:
            self._watching.pop(session_id, None)

    def unwatch(self, session_id: str) -> None:
        self._watching.pop(session_id, None)

    async def notify(self, point: str, session_id: str) -> None:
        observers = self._watching.get(session_id)
        if not observers or point not in POINTS:
            return
        reached = TurnPoint(point, session_id)
        for choice, observer in observers:
            try:
                await observer.reached(reached)
            except Exception as exc:
                failed = ExtensionFailed.of("observers", choice.name, exc)
                log.warning("session %s: %s", session_id, failed.message)
                self._failures.setdefault(session_id, []).append(failed)

    def take_failures(self, session_id: str) -> list[ExtensionFailed]:
        return self._failures.pop(session_id, [])

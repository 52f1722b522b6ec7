"""A server-side tool of an extension (``ServerTool``) as the ``ToolRouter`` runs it: a ``ToolExecutor``.

Invariants:

* A call runs at most once per ``tool_use_id``: through the ``ToolJournal`` sandbox calls use (kept beside the
  worker's data, outside any sandbox), so a worker that takes the session over after a crash returns the recorded
  result, or the journal's ``interrupted`` error for a call that started and never finished, and never runs it
  again.
* A tool that raises (or returns something else than a ``ToolResult``) gives an error result, journalled like any
  other, and a failure the turn reports as a ``session.error`` naming the extension; the turn goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from corral.harness.extensions.points import ServerTool, ToolInvocation
from corral.harness.extensions.selection import Choice, ExtensionFailed, conforming
from corral.harness.models.base import ToolSpec
from corral.harness.router import ToolCall
from corral.sandbox import ToolResult
from corral.sandbox.journal import ToolJournal

Reached = Callable[[str, str], Awaitable[None]]


class ExtensionTool:
    def __init__(self, choice: Choice, tool: ServerTool, journal: ToolJournal, reached: Reached):
        self.choice = choice
        self.tool = tool
        self._journal = journal
        self._reached = reached
        #: failures not yet reported on the session (``take_failures``)
        self.failures: list[ExtensionFailed] = []

    @property
    def names(self) -> frozenset[str]:
        return frozenset({self.tool.name})

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.tool.name, self.tool.description, dict(self.tool.input_schema))

    async def execute(self, call: ToolCall) -> ToolResult:
        run = partial(self._run, call)
        result = await self._journal.run_once(call.session_id, call.tool_use_id, self.tool.name, run)
        await self._reached("tool_ran", call.session_id)  # journalled, not in the log yet: where a crash test strikes
        return result

    async def _run(self, call: ToolCall) -> ToolResult:
        try:
            returned = await self.tool.run(ToolInvocation(call.session_id, call.tool_use_id, call.input))
            result = conforming(returned, ToolResult)
            if result is None:
                raise TypeError(f"run() returned {type(returned).__name__}, not a ToolResult")
        except Exception as exc:  # the extension's fault: an error result, and a session.error naming it
            failed = ExtensionFailed.of("tools", self.choice.name, exc)
            self.failures.append(failed)
            result = ToolResult.error(f"{self.tool.name}: {failed.message}")
        return result

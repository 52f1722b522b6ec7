"""The model step of a turn: build the context, route it to a model, compact it if it would not fit, stream one
response. The context strategy, the router and the compaction policy are the agent's extensions (``Extensions``:
corral's defaults unless it selected others); each is called once per request, and one that raises ends the turn
with a ``session.error`` naming it.

Wire order (api.md §6.5): ``span.model_request_start`` → previews (live only) → ``agent.thinking`` /
``agent.message`` / tool-use events → ``span.model_request_end`` (``model_usage``, and the model's
``stop_reason`` as an extra field). The response and its closing span are appended in one write, so a crash
mid-stream leaves only the open span, which the next worker closes (``is_error: true``) before asking again.
Failures follow ``failures`` (retry with backoff, or give up); compaction is ``summarise``. The tools offered are
the turn's (``Turn``): built-in, custom, and the MCP tools the turn listed (``harness.mcp``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio

from corral.errors import ModelError
from corral.harness import emits
from corral.harness.agent import AgentConfig
from corral.harness.budget import request_cost
from corral.harness.decide import RUNNING
from corral.harness.extensions import ExtensionFailed, Extensions
from corral.harness.extensions.points import ContextView, RouteRequest
from corral.harness.failures import give_up, model_failed, named
from corral.harness.harness import Harness
from corral.harness.mcp import McpListing
from corral.harness.models.base import ModelRequest, ToolSpec
from corral.harness.models.registry import ResolvedModel
from corral.harness.policy import JudgeContext
from corral.harness.response import Judging, response_events
from corral.harness.stream import Collector, DeltaPump
from corral.harness.summarise import compact
from corral.harness.writer import Writer
from corral.observe.turns import ModelCallReport, TurnTrace
from corral.sandbox.hands import Hands
from corral.session import Event, NewEvent
from corral.vocab.events import RESULT_KEYS
from corral.vocab.tools import SANDBOX_TOOLS

log = logging.getLogger("corral.harness")


@dataclass
class ModelCall:
    harness: Harness
    writer: Writer
    agent: AgentConfig
    hands: Hands | None
    #: the tool definitions the model is offered
    tools: list[ToolSpec]
    #: built-in tools the client's own worker runs (``self_hosted`` environments)
    client_runs: frozenset[str]
    #: the turn's MCP tools (``tools`` holds their definitions), to classify the model's calls to them
    mcp: McpListing | None = None
    #: events to write with the request's first append (``session.error`` for MCP servers that could not be listed)
    notices: tuple[NewEvent, ...] = ()
    #: the turn's trace and metrics (a span per model request)
    trace: TurnTrace | None = None
    #: the agent's extensions: how the context is built and compacted, which model answers (``corral.extend``)
    extensions: Extensions = field(default_factory=Extensions.defaults)

    async def run(self, prelude: tuple[NewEvent, ...]) -> None:
        prelude = (*prelude, *self.notices)
        try:
            await self._request(prelude)
        except ExtensionFailed as failed:  # the extension is named; the turn ends, never stuck
            log.warning("session %s: %s", self.writer.session_id, failed.message)
            await give_up(self.writer, list(prelude), "unknown_error", failed.message)

    async def _request(self, prelude: tuple[NewEvent, ...]) -> None:
        ext, sid = self.extensions, self.writer.session_id
        events, compacted, cache = self.writer.events, self.writer.state.compaction, self.writer.log.context
        notes = cache.notes(events, ext.selection.context_strategy.name)  # ``ext.notes``, only the new events read
        built = await ext.build_context(ContextView(sid, events, compacted, self.agent.system, notes, cache.messages))
        await self.harness.reached("context_built", sid)
        tokens = cache.estimate(built.messages, built.system, self.tools)
        route = await ext.route(RouteRequest(sid, self.agent.model_id, events, _after_tool_results(events), tokens))
        try:
            resolved = self.harness.models.resolve(route.model)
        except ModelError as err:
            log.warning("session %s: %s", sid, err.message)
            await give_up(self.writer, list(prelude), err.session_error_type, err.message)
            return
        if ext.should_compact(tokens, resolved.context_window):
            await compact(self.harness, self.writer, route.model, prelude, resolved, ext.plan)
            return
        max_tokens = min(self.harness.limits.max_tokens, resolved.context_window // 4)
        request = ModelRequest(
            resolved.name, built.messages, built.system, self.tools, max_tokens, self.agent.thinking_budget, cache.memo
        )
        span = emits.span_start(route.model)
        span = NewEvent(span.type, {**span.data, **ext.span_fields(built, route, self.agent.model_id)})
        start = (await self.writer.emit([*prelude, span]))[-1]
        if RUNNING in prelude and self.hands is not None and self._sandbox_tools_here():
            self.hands.turn_started()
        await self.harness.reached("model_request_started", sid)
        with (self.trace or TurnTrace(sid)).model_call(resolved.provider, resolved.name) as report:
            await self._respond(start, resolved, request, report)

    def _sandbox_tools_here(self) -> bool:
        return not self.client_runs and self.agent.uses_any(SANDBOX_TOOLS)

    async def _respond(
        self, start: Event, resolved: ResolvedModel, request: ModelRequest, report: ModelCallReport
    ) -> None:
        pump = DeltaPump(self.writer.preview)
        collector = Collector(pump, self._on_tool_start)
        failure: ModelError | None = None
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self.writer.stamp_taken)
                group.start_soon(pump.run)
                try:
                    await self._stream(resolved, request, collector)
                except ModelError as err:
                    failure = err
                pump.close()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._cut_short(collector)
            raise
        if failure is not None or collector.finished is None:
            error = named(
                failure or ModelError("the response ended without finishing"), resolved, self.harness.models.secrets
            )
            report.failed = True
            log.warning("session %s: model request failed: %s", self.writer.session_id, error.message)
            await model_failed(self.writer, self.harness.limits, start.id, error)
            return
        judging = Judging(self.harness.judge, JudgeContext(self.writer.session_id, self.writer.events))
        events = await response_events(
            collector.response(), self.agent, self.client_runs, judging=judging, mcp=self.mcp
        )
        finished = collector.finished
        report.finished(finished.usage.input_tokens, finished.usage.output_tokens, finished.stop_reason)
        routed = str(start.data().get("model") or self.agent.model_id)  # the model the router chose answered
        cost = request_cost(self.harness.prices, routed, finished.usage)
        # a router's choice without a price: the session's spend cannot be measured from here on (spend.py)
        unpriced = routed if cost is None and routed != self.agent.model_id else None
        end = emits.span_end(start.id, finished.usage, stop=finished.stop_reason, list_cost=cost, unpriced=unpriced)
        await self.writer.emit([*events, end])
        await self.harness.reached("response_recorded", self.writer.session_id)

    async def _cut_short(self, collector: Collector) -> None:
        """The response was cut short (an interrupt): record what its previews showed, so every preview a
        client saw ends with its event; the interrupt's handling then closes the span."""
        shown = await response_events(
            collector.previewed(), self.agent, self.client_runs, keep_empty=True, mcp=self.mcp
        )
        await self.writer.emit(shown)

    async def _stream(self, resolved: ResolvedModel, request: ModelRequest, collector: Collector) -> None:
        announced = False
        async for event in resolved.client.stream(request):
            collector.feed(event)
            if collector.first_token and not announced:
                announced = True
                await self.harness.reached("first_token", self.writer.session_id)
        await collector.pump.drain()

    def _on_tool_start(self, name: str) -> None:
        if self.hands is not None and self._sandbox_tools_here() and name in self.agent.enabled(SANDBOX_TOOLS):
            self.hands.tool_block_started(name)


def _after_tool_results(events: Sequence[Event]) -> bool:
    """The request answers tool results: the latest input of the log is a result rather than a user's message."""
    for event in reversed(events):
        if event.type in RESULT_KEYS:
            return True
        if event.type == "user.message":
            return False
    return False

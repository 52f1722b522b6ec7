"""The model step of a turn: build the context, compact it if it would not fit, stream one response.

Wire order (api.md §6.5): ``span.model_request_start`` → previews (live only) → ``agent.thinking`` /
``agent.message`` / tool-use events → ``span.model_request_end`` (``model_usage``, and the model's
``stop_reason`` as an extra field). The response and its closing span are appended in one write, so a crash
mid-stream leaves only the open span, which the next worker closes (``is_error: true``) before asking again.

Failures: a retryable ``ModelError`` closes the span with ``is_error``, writes ``session.error``
(``retry_status: retrying``) and ``session.status_rescheduled``, waits (exponential backoff, ``retry-after``
honoured) and lets the turn ask again (``session.status_running`` first). When retries run out, or the error
is not retryable: ``session.error`` (``exhausted``) and idle ``retries_exhausted``. Never a stuck ``running``.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup

from corral._types import JSONObject
from corral.errors import ModelError
from corral.harness import compaction, emits
from corral.harness.agent import AgentConfig
from corral.harness.brain import Harness
from corral.harness.context import build_messages
from corral.harness.decide import RUNNING
from corral.harness.environments import self_hosted
from corral.harness.hands import Hands
from corral.harness.models.base import BlockFinished, ModelRequest, ResponseFinished, Usage
from corral.harness.models.content import Message, Text
from corral.harness.models.registry import ResolvedModel
from corral.harness.router import ToolRouter
from corral.harness.stream import Collector, DeltaPump
from corral.harness.toolset import SANDBOX_TOOLS
from corral.harness.writer import Writer
from corral.session import Event, NewEvent


@dataclass
class ModelStep:
    harness: Harness
    writer: Writer
    agent: AgentConfig
    router: ToolRouter
    hands: Hands | None
    background: TaskGroup
    #: the session's environment config (a ``self_hosted`` one runs built-in tools in the client's worker)
    environment: JSONObject

    @property
    def client_runs(self) -> frozenset[str]:
        return frozenset(SANDBOX_TOOLS) if self_hosted(self.environment) else frozenset()

    async def run(self, prelude: tuple[NewEvent, ...]) -> None:
        try:
            resolved = self.harness.models.resolve(self.agent.model_id)
        except ModelError as err:
            await self._give_up(list(prelude), err.session_error_type, err.message)
            return
        state = self.writer.log.state
        messages = build_messages(self.writer.log.events, state.compaction)
        tools = self.agent.specs(self.router.available | self.client_runs)
        tokens = compaction.estimate_tokens(messages, self.agent.system, tools)
        if compaction.needs_compaction(tokens, resolved.context_window):
            await self._compact(prelude, resolved)
            return
        limits = self.harness.limits
        max_tokens = min(limits.max_tokens, resolved.context_window // 4)
        request = ModelRequest(
            resolved.name, messages, self.agent.system, tools, max_tokens, self.agent.thinking_budget
        )
        start = (await self.writer.emit([*prelude, emits.span_start(self.agent.model_id)]))[-1]
        if RUNNING in prelude:
            self.background.start_soon(self._warm_if, "eager")
        await self.harness.reached("model_request_started", self.writer.session_id)
        await self._respond(start, resolved, request)

    async def _respond(self, start: Event, resolved: ResolvedModel, request: ModelRequest) -> None:
        pump = DeltaPump(self.writer.store, self.writer.session_id)
        collector = Collector(pump, self._on_tool_start)
        failure: ModelError | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(self.writer.stamp_taken)
            group.start_soon(pump.run)
            try:
                await self._stream(resolved, request, collector)
            except ModelError as err:
                failure = err
            pump.close()
        if failure is not None or collector.finished is None:
            await self._failed(start, failure or ModelError("the response ended without finishing"))
            return
        events = collector.events(self.agent, self.client_runs)
        finished = collector.finished
        await self.writer.emit([*events, emits.span_end(start.id, finished.usage, stop=finished.stop_reason)])
        await self.harness.reached("response_recorded", self.writer.session_id)

    async def _stream(self, resolved: ResolvedModel, request: ModelRequest, collector: Collector) -> None:
        announced = False
        async for event in resolved.client.stream(request):
            collector.feed(event)
            if collector.first_token and not announced:
                announced = True
                await self.harness.reached("first_token", self.writer.session_id)
        await collector.pump.drain()

    def _on_tool_start(self, name: str) -> None:
        if name in SANDBOX_TOOLS and self.hands is not None and not self.hands.provisioned and not self.client_runs:
            self.background.start_soon(self._warm_if, "speculative")

    async def _warm_if(self, mode: str) -> None:
        hands = self.hands
        if hands is None or self.client_runs or not self.agent.uses_sandbox(SANDBOX_TOOLS):
            return
        if await hands.mode() == mode:
            await hands.warm()

    async def _failed(self, start: Event, err: ModelError) -> None:
        attempt = self.writer.log.state.errors_in_row
        limits = self.harness.limits
        closing = emits.span_end(start.id, is_error=True)
        if not err.retryable or attempt >= limits.model_max_retries:
            await self._give_up([closing], err.session_error_type, err.message)
            return
        error = emits.session_error(err.session_error_type, err.message, "retrying")
        await self.writer.emit([closing, error, NewEvent("session.status_rescheduled")])
        await anyio.sleep(limits.backoff(attempt, err.retry_after))

    async def _give_up(self, events: list[NewEvent], error_type: str, message: str) -> None:
        await self.writer.settle([*events, *emits.exhausted(error_type, message)])

    # ------------------------------------------------------------------ compaction

    async def _compact(self, prelude: tuple[NewEvent, ...], resolved: ResolvedModel) -> None:
        state = self.writer.log.state
        window = resolved.context_window
        plan = compaction.plan(self.writer.log.events, state.compaction, window)
        if plan is None or state.compactions_in_row >= self.harness.limits.compaction_limit:
            message = "the context does not fit the model's window, even after compaction"
            await self._give_up(list(prelude), "compaction_limit_reached_error", message)
            return
        start = (await self.writer.emit([*prelude, emits.span_start(self.agent.model_id, "compaction")]))[-1]
        summary, method, usage = plan.truncated_summary, "truncation", Usage()
        if plan.messages is not None:
            try:
                summary, usage = await self._summarise(resolved, plan.messages, compaction.summary_budget(window))
                method = "summary"
            except ModelError as err:
                if err.retryable:
                    await self._failed(start, err)
                    return
        compacted = NewEvent(
            "agent.thread_context_compacted", {"summary": summary, "through_seq": plan.through_seq, "method": method}
        )
        await self.writer.emit([compacted, emits.span_end(start.id, usage, stop="end_turn")])

    async def _summarise(self, resolved: ResolvedModel, messages: list[Message], budget: int) -> tuple[str, Usage]:
        request = ModelRequest(resolved.name, messages, compaction.SUMMARY_SYSTEM, [], budget)
        texts: list[str] = []
        usage = Usage()
        async for event in resolved.client.stream(request):
            if isinstance(event, BlockFinished) and isinstance(event.block, Text):
                texts.append(event.block.text)
            elif isinstance(event, ResponseFinished):
                usage = event.usage
        return "\n".join(texts).strip(), usage

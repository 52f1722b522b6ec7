"""A turn as a pipeline: read the log → decide the next step → perform it (which appends events) → again.

Steps and what they write:

* ``CallModel`` (``model_step``): ``span.model_request_start`` … ``span.model_request_end``.
* ``Execute``: each allowed call through the ``ToolRouter``, one ``agent.tool_result`` per call, in order.
* ``Refuse``: an error ``agent.tool_result`` for calls denied by policy or by ``user.tool_confirmation``.
* ``Block``: idle ``requires_action`` with the ids still awaited from the client.
* ``EndTurn`` / ``ToolLimit``: idle ``end_turn`` (or ``refusal``) / ``tool_use_limit_reached_error`` and
  idle ``retries_exhausted``.
* ``CloseSpan``: a model request a dead worker left open is closed with ``is_error: true``; then the
  turn asks the model again.
* ``HandleInterrupt``: close what is open (the span; an error result for each allowed call without one),
  idle ``end_turn``.

Steering: a ``user.message`` that arrives during a turn is queued and taken up at the next model request
(it is in the next context; a turn whose model answered without tools asks again instead of idling).

Interrupts: the wake's watcher cancels the model stream or running tool at once (``interrupt``); the
next decision handles the ``user.interrupt``.
"""

from __future__ import annotations

from collections.abc import Awaitable

import anyio
from anyio.abc import TaskGroup

from corral.harness import emits
from corral.harness.agent import AgentConfig
from corral.harness.brain import Harness
from corral.harness.decide import (
    Block,
    CallModel,
    CloseSpan,
    Done,
    EndTurn,
    Execute,
    HandleInterrupt,
    Refuse,
    Step,
    ToolLimit,
    decide,
)
from corral.harness.hands import Hands
from corral.harness.log import SessionLog
from corral.harness.model_step import ModelStep
from corral.harness.router import ToolCall, ToolRouter
from corral.harness.writer import Writer
from corral.sandbox import ToolResult
from corral.session import Fence, NewEvent, SessionRecord

INTERRUPTED = "interrupted: the user interrupted the turn before this call returned"


class Turn:
    def __init__(
        self,
        harness: Harness,
        fence: Fence,
        log: SessionLog,
        record: SessionRecord,
        hands: Hands | None,
        background: TaskGroup,
    ):
        self.harness = harness
        self.writer = Writer(harness.store, fence, log)
        self.log = log
        self.record = record
        self.hands = hands
        self.router = ToolRouter(hands, harness.executors)
        self.background = background
        self.agent = self._configure(record)
        self._latest = log.last_seq
        self._scope: anyio.CancelScope | None = None

    # ------------------------------------------------------------------ driven by the wake's watcher

    def seen(self, seq: int) -> None:
        self._latest = max(self._latest, seq)

    def interrupt(self) -> None:
        """Stop the model stream or tool that is running now (the decision loop handles the rest)."""
        if self._scope is not None:
            self._scope.cancel()

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        resuming = True
        while True:
            if self._latest > self.log.last_seq:
                await self.log.catch_up(self.harness.store)
            state = self.log.state
            step = decide(state, resuming=resuming, max_tool_rounds=self.harness.limits.max_tool_rounds)
            if isinstance(step, Done):
                return
            if not state.turn_open and self.log.last_seq > self.record.last_seq:
                self.agent = self._configure(await self.harness.store.get_session(self.writer.session_id))
            await self._perform(step)
            resuming = False

    def _configure(self, record: SessionRecord) -> AgentConfig:
        self.record = record
        agent = AgentConfig.from_snapshot(record.doc.get("agent") or {})
        if self.hands is not None:
            self.hands.bind(
                record.workspace_id, record.environment_id, {name: agent.tool_config(name) for name in agent.builtins}
            )
        return agent

    async def _perform(self, step: Step) -> None:
        if isinstance(step, CallModel):
            environment = await self.harness.environments.config(self.record.workspace_id, self.record.environment_id)
            model = ModelStep(
                self.harness, self.writer, self.agent, self.router, self.hands, self.background, environment
            )
            await self._cancellable(model.run(step.prelude))
        elif isinstance(step, Execute):
            await self._cancellable(self._execute(step))
        elif isinstance(step, HandleInterrupt):
            await self._handle_interrupt(step)
        elif isinstance(step, CloseSpan):
            span = self.log.state.open_span
            assert span is not None
            await self.writer.emit([*step.prelude, emits.span_end(span.id, is_error=True)])
        elif isinstance(step, Refuse):
            await self._refuse(step)
        elif isinstance(step, Block):
            await self._settle(step, [emits.requires_action(list(step.event_ids))], turn_over=False)
        elif isinstance(step, EndTurn):
            await self._settle(step, [emits.idle(step.stop_reason, step.stop_details)])
        elif isinstance(step, ToolLimit):
            message = f"the turn reached the limit of {self.harness.limits.max_tool_rounds} tool rounds"
            await self._settle(step, emits.exhausted("tool_use_limit_reached_error", message))

    async def _cancellable(self, work: Awaitable[None]) -> None:
        with anyio.CancelScope() as scope:
            self._scope = scope
            try:
                await work
            finally:
                self._scope = None

    # ------------------------------------------------------------------ steps

    async def _execute(self, step: Execute) -> None:
        sid = self.writer.session_id
        if step.prelude:
            await self.writer.emit(list(step.prelude))
        for call in step.calls:
            await self.harness.reached("tool_started", sid)
            request = ToolCall(sid, call.event_id, call.name, call.input, self.agent.tool_config(call.name))
            result = await self.router.run(request)
            await self.writer.emit([emits.tool_result(call.event_id, result)])
            await self.harness.reached("tool_recorded", sid)

    async def _refuse(self, step: Refuse) -> None:
        events: list[NewEvent] = list(step.prelude)
        for call in step.calls:
            if call.confirmation == "deny":
                reason = call.deny_message or "the user denied permission to use this tool"
                text = f"{call.name}: permission denied: {reason}"
            else:
                text = f"{call.name}: this tool is not enabled for this agent"
            events.append(emits.tool_result(call.event_id, ToolResult.error(text)))
        await self.writer.emit(events)
        await self.writer.stamp_settled(interrupts=False)

    async def _settle(self, step: Step, events: list[NewEvent], *, turn_over: bool = True) -> None:
        await self.writer.settle([*step.prelude, *events], turn_over=turn_over)
        await self.harness.reached("turn_idle", self.writer.session_id)

    async def _handle_interrupt(self, step: HandleInterrupt) -> None:
        state = self.log.state
        events: list[NewEvent] = []
        if state.open_span is not None:
            events.append(emits.span_end(state.open_span.id, is_error=True))
        for call in state.open_calls():
            if call.runnable:
                events.append(emits.tool_result(call.event_id, ToolResult.error(f"{call.name}: {INTERRUPTED}")))
        blocked = (state.idle_stop or {}).get("type") == "requires_action" and state.status == "idle"
        if state.turn_open or blocked:
            events.append(emits.idle({"type": "end_turn"}))
        await self.writer.settle(events)

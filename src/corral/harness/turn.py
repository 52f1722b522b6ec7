"""A turn as a pipeline: read the log → decide the next step → perform it (which appends events) → again.

Steps and what they write:

* ``CallModel`` (``model_call``): ``span.model_request_start`` … ``span.model_request_end``.
* ``Execute``: each allowed call through the ``ToolRouter``, one ``agent.tool_result`` per call (an MCP call:
  ``agent.mcp_tool_result``, after a ``session.error`` naming the server if the server failed), in order;
  before a sandbox call's result, a ``session.error`` (``retrying``) for each provisioning failure and for each
  notice of a sandbox provisioned (``ProvisionNotice``: a credential the sandbox cannot use, say). Notices of a
  sandbox provisioned ahead of need go with the next model request if no call reported them first.
* ``Refuse``: an error ``agent.tool_result`` (``agent.mcp_tool_result``) for calls denied by policy or by
  ``user.tool_confirmation``: the ``deny_message`` of a confirmation; ``Permission to use {tool_name} has been
  denied.`` for an ``auto`` denial (the documented text); "not enabled" for a tool the agent does not have.
* ``Block``: idle ``requires_action`` with the ids still awaited from the client.
* ``EndTurn`` / ``ToolLimit``: idle ``end_turn`` (or ``refusal``) / ``tool_use_limit_reached_error`` and
  idle ``retries_exhausted``.
* ``CloseSpan``: a model request a dead worker left open is closed with ``is_error: true``; then the
  turn asks the model again.
* ``HandleInterrupt``: close what is open (the span; an error result for each allowed call without one),
  idle ``end_turn``.

MCP tools: the servers the agent declares are listed once per turn, when the turn first asks the model
(``harness.mcp``); the listing is kept until the turn ends, and its calls go to the server they name.

Steering: a ``user.message`` that arrives during a turn is queued and taken up at the next model request
(it is in the next context; a turn whose model answered without tools asks again instead of idling).

Interrupts: the wake's watcher cancels the model stream or running tool at once (``interrupt``); the
next decision handles the ``user.interrupt``.

Extensions (``corral.extend``): the agent's selection is read with its snapshot and loaded when a turn first asks
the model or runs a call (after a crash: whatever step the new worker starts with); their tools join the
turn's, run by the ``ToolRouter``; one that cannot be loaded ends the turn with a ``session.error`` naming it;
an observer that raised is named in a ``session.error`` before the next step (the turn goes on).

Observed (``corral.observe.turns.TurnTrace``): the first step of a turn on this worker begins its span and its
``turn_id`` (a resumed one also logs the crash recovery and counts a lease takeover); each model request and
tool call is a child span; the step that ends the turn (``OUTCOMES``) ends the span. Log lines written during a
step carry the session and turn ids, during a tool call its id too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import replace
from typing import assert_never

import anyio

from corral._types import JSONObject, json_list, json_object
from corral.harness import emits
from corral.harness.agent import AgentConfig
from corral.harness.budget import BudgetGate
from corral.harness.decide import (
    RESCHEDULED,
    Block,
    CallModel,
    CloseSpan,
    Done,
    EndTurn,
    Execute,
    Grade,
    HandleInterrupt,
    Refuse,
    Step,
    ToolLimit,
    decide,
)
from corral.harness.extensions import ExtensionFailed, Extensions, Selection
from corral.harness.failures import give_up
from corral.harness.grader import grade
from corral.harness.harness import Harness
from corral.harness.log import Call, SessionLog
from corral.harness.mcp import McpListing, McpToolset, failure_event, list_mcp, mcp_toolsets, result_event, server_of
from corral.harness.model_call import ModelCall
from corral.harness.prompt_memory import memory_section
from corral.harness.prompt_skills import with_skills
from corral.harness.router import SessionScope, ToolCall, ToolRouter
from corral.harness.writer import Writer
from corral.observe import metrics
from corral.observe.turns import TurnTrace, new_turn_id
from corral.sandbox import ToolResult
from corral.sandbox.base import ProvisionNotice
from corral.sandbox.hands import Hands
from corral.sandbox.recipe import self_hosted
from corral.session import Fence, NewEvent, SessionRecord
from corral.vocab.tools import BUILTIN_TOOLS, SANDBOX_TOOLS

INTERRUPTED = "interrupted: the user interrupted the turn before this call returned"
AUTO_DENIED = "Permission to use {} has been denied."
#: how each step that ends a turn ends it (the turn span's ``corral.turn.outcome``, the ``corral_turns`` label)
OUTCOMES: dict[type[Step], str] = {
    EndTurn: "end_turn",
    ToolLimit: "tool_limit",
    Block: "requires_action",
    HandleInterrupt: "interrupted",
}
_BUILTIN = frozenset(BUILTIN_TOOLS)
logger = logging.getLogger("corral.harness")


class Turn:
    def __init__(self, harness: Harness, fence: Fence, log: SessionLog, record: SessionRecord, hands: Hands | None):
        self.harness = harness
        self.writer = Writer(harness.store, fence, log)
        self.record = record
        self.hands = hands
        self.router = ToolRouter(hands, harness.executors, harness.mcp)
        self.mcp_toolsets: list[McpToolset] = []
        #: the extensions the agent selected, loaded when a step first needs them (None: not yet, this turn)
        self.extensions: Extensions | None = None
        self.selection = Selection.from_snapshot({})
        self.agent = self._configure(record)
        #: the MCP tools of the current turn (listed when the turn first asks the model; None between turns)
        self._mcp: McpListing | None = None
        self._latest = log.last_seq
        self._scope: anyio.CancelScope | None = None
        self.trace = TurnTrace(record.id)
        self.budget = BudgetGate(harness.store, harness.prices, record.id)

    # ------------------------------------------------------------------ driven by the wake's watcher

    def seen(self, seq: int) -> None:
        self._latest = max(self._latest, seq)

    def interrupt(self) -> None:
        """Stop the model stream or tool that is running now (the decision loop handles the rest)."""
        if self._scope is not None:
            self._scope.cancel()

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        try:
            await self._loop()
        finally:
            self.harness.extensions.unwatch(self.record.id)
            self.trace.end("stopped")  # the wake ended mid-turn (a lost lease, a failure, a model that gave up)

    async def _loop(self) -> None:
        resuming = True
        while True:
            if self._latest > self.writer.log.last_seq:
                await self.writer.catch_up()
            state = self.writer.state
            step = decide(state, resuming=resuming, max_tool_rounds=self.harness.limits.max_tool_rounds)
            step = await self.budget.check(step, state, self.record, self.agent.model_id)
            if isinstance(step, Done):
                return
            if not state.turn_open:
                self._mcp = None  # the next turn lists the MCP servers again (their tools, credentials may change)
            if not state.turn_open and self.writer.log.last_seq > self.record.last_seq:
                self.agent = self._configure(await self.harness.store.get_session(self.writer.session_id))
            self._observe(step)
            with self.trace.ids():
                await self._report_observers()
                await self._perform(step)
            if (outcome := OUTCOMES.get(type(step))) is not None:
                self.trace.end(outcome)
            resuming = False

    def _observe(self, step: Step) -> None:
        """A step of a turn this worker has not traced yet begins one (after a crash: what is left of it)."""
        if self.trace.turn_id is not None or isinstance(step, (Done, Block)):
            return
        resumed = RESCHEDULED in step.prelude
        self.trace.begin(new_turn_id(), self.agent.model_id, resumed=resumed)
        if resumed:
            metrics.lease_takeovers.inc()
            with self.trace.ids():
                logger.warning("crash recovery: resuming a turn another worker left unfinished (lease taken over)")

    def _configure(self, record: SessionRecord) -> AgentConfig:
        self.record = record
        if self.hands is not None:
            self.hands.bind(record.workspace_id, record.environment_id)
        snapshot = json_object(record.doc.get("agent")) or {}
        self.mcp_toolsets = mcp_toolsets(snapshot)
        self.selection, self.extensions = Selection.from_snapshot(snapshot), None
        config = AgentConfig.from_snapshot(snapshot)
        return replace(config, system=with_skills(config.system, record.doc)).with_sections(memory_section(record.doc))

    @property
    def scope(self) -> SessionScope:
        """The session as MCP servers' credentials are found for it (the harness never holds one)."""
        vault_ids = json_list(self.record.doc.get("vault_ids")) or []
        return SessionScope(self.record.id, self.record.workspace_id, tuple(map(str, vault_ids)))

    async def _perform(self, step: Step) -> None:
        if self.hands is not None:
            self.hands.workspace_expected = self.writer.state.workspace_used
        match step:
            case CallModel():
                if (extensions := await self._extensions(step)) is not None:
                    await self._cancellable((await self._model_call(extensions)).run(step.prelude))
            case Execute():
                if await self._extensions(step) is not None:
                    await self._cancellable(self._execute(step))
            case HandleInterrupt():
                await self._handle_interrupt()
            case CloseSpan():
                await self._close_span(step)
            case Refuse():
                await self._refuse(step)
            case Block():
                await self._settle(step, [emits.requires_action(list(step.event_ids))], turn_over=False)
            case EndTurn():
                await self._settle(step, [emits.idle(step.stop_reason, step.stop_details)])
            case ToolLimit():
                message = f"the turn reached the limit of {self.harness.limits.max_tool_rounds} tool rounds"
                await self._settle(step, emits.exhausted("tool_use_limit_reached_error", message))
            case Grade():
                await self._cancellable(grade(self.harness, self.writer, self.agent.model_id, step.prelude))
            case Done():
                return
            case _:
                assert_never(step)

    async def _cancellable(self, work: Awaitable[None]) -> None:
        with anyio.CancelScope() as scope:
            self._scope = scope
            try:
                await work
            finally:
                self._scope = None

    # ------------------------------------------------------------------ steps

    async def _extensions(self, step: CallModel | Execute) -> Extensions | None:
        """The agent's extensions (loaded once a turn, off the event loop); None when one cannot be loaded: the
        turn then ends with a ``session.error`` naming it."""
        if self.extensions is None:
            try:
                loaded = await self.harness.extensions.load(self.selection, self.harness.reached)
                self._check_tools(loaded)
            except ExtensionFailed as failed:
                logger.warning("%s", failed.message)
                await give_up(self.writer, list(step.prelude), "unknown_error", failed.message)
                return None
            self.extensions = loaded
            executors = (*self.harness.executors, *loaded.tools.values())
            self.router = ToolRouter(self.hands, executors, self.harness.mcp)
            self.agent = replace(self.agent, served=dict(loaded.policies))
            self.harness.extensions.watch(self.record.id, loaded)
        return self.extensions

    def _check_tools(self, loaded: Extensions) -> None:
        for name, tool in loaded.tools.items():
            if name in self.agent.custom or name in BUILTIN_TOOLS:
                raise ExtensionFailed("tools", tool.choice.name, f"the agent already has a tool named {name!r}")

    async def _report_observers(self) -> None:
        """Observers that raised since the last step: a ``session.error`` each, naming it (the turn goes on)."""
        failures = self.harness.extensions.take_failures(self.record.id)
        if failures:
            await self.writer.emit([emits.session_error("unknown_error", f.message, "retrying") for f in failures])

    async def _model_call(self, extensions: Extensions) -> ModelCall:
        environments = self.harness.hands.environments
        config = await environments.config(self.record.workspace_id, self.record.environment_id)
        client_runs = frozenset(SANDBOX_TOOLS) if self_hosted(config) else frozenset[str]()
        tools = self.agent.specs(self.router.available | client_runs)
        notices: tuple[NewEvent, ...] = ()
        if self._mcp is None:
            reserved = {tool.name for tool in tools} | set(self.agent.custom)
            self._mcp = await list_mcp(self.harness.mcp, self.scope, self.mcp_toolsets, reserved)
            notices = tuple(self._mcp.notices)
        tools += self._mcp.specs() + extensions.specs
        notices += tuple(map(notice_event, self.hands.take_notices() if self.hands is not None else ()))
        return ModelCall(
            self.harness,
            self.writer,
            self.agent,
            self.hands,
            tools,
            client_runs,
            self._mcp,
            notices,
            self.trace,
            extensions,
        )

    async def _execute(self, step: Execute) -> None:
        sid = self.writer.session_id
        if step.prelude:
            await self.writer.emit(list(step.prelude))
        for call in step.calls:
            await self.harness.reached("tool_started", sid)
            with self.trace.tool_call(call.name, call.event_id, metrics.tool_label(call.name, _BUILTIN)):
                await self._execute_one(call)
            await self.harness.reached("tool_recorded", sid)

    async def _execute_one(self, call: Call) -> None:
        if call.type == "agent.mcp_tool_use":
            await self.writer.emit(await self._run_mcp(call))
        else:
            request = ToolCall(
                self.writer.session_id, call.event_id, call.name, call.input, self.agent.tool_config(call.name)
            )
            result = await self.router.run(request)
            failed = [_failure(f) for f in self.extensions.take_tool_failures()] if self.extensions else []
            await self.writer.emit([*self._sandbox_failures(), *failed, emits.tool_result(call.event_id, result)])

    async def _run_mcp(self, call: Call) -> list[NewEvent]:
        """An MCP call's result; a server failure is also a ``session.error`` naming the server (the turn goes on)."""
        server = server_of(self.mcp_toolsets, call.mcp_server_name)
        request = ToolCall(self.writer.session_id, call.event_id, call.name, call.input, {})
        outcome = await self.router.run_mcp(self.scope, server, request)
        failure = [failure_event(outcome.failure)] if outcome.failure is not None else []
        return [*failure, result_event(call, outcome.result)]

    def _sandbox_failures(self) -> list[NewEvent]:
        """A sandbox that could not be provisioned (its packages did not install, say) is reported on the session
        as well as in the call's result: the session goes on, and the next call tries again. So are the notices of
        a sandbox provisioned (a credential of the session that it cannot use)."""
        if self.hands is None:
            return []
        message = "the session's sandbox could not be provisioned: {}"
        failures = [
            emits.session_error("unknown_error", message.format(exc.message), "retrying")
            for exc in self.hands.take_failures()
        ]
        return [*failures, *map(notice_event, self.hands.take_notices())]

    async def _close_span(self, step: CloseSpan) -> None:
        span = self.writer.state.open_span
        assert span is not None, "decide() chose CloseSpan, so a span is open"
        await self.writer.emit([*step.prelude, emits.span_end(span.id, is_error=True)])

    async def _refuse(self, step: Refuse) -> None:
        events: list[NewEvent] = list(step.prelude)
        for call in step.calls:
            events.append(result_event(call, ToolResult.error(self._refusal(call))))
        await self.writer.emit(events)
        await self.writer.stamp_settled(interrupts=False)

    def _refusal(self, call: Call) -> str:
        if call.confirmation == "deny":
            reason = call.deny_message or "the user denied permission to use this tool"
            return f"{call.name}: permission denied: {reason}"
        if self._judged(call.event_id):
            return AUTO_DENIED.format(call.name)
        return f"{call.name}: this tool is not enabled for this agent"

    def _judged(self, event_id: str) -> bool:
        """The call's recorded verdict came from the ``auto`` judge (its event is near the end of the log)."""
        for event in reversed(self.writer.events):
            if event.id == event_id:
                evaluation = json_object(event.data().get("evaluation"))
                return evaluation is not None and evaluation.get("type") == "auto"
        return False

    async def _settle(
        self, step: Block | EndTurn | ToolLimit, events: list[NewEvent], *, turn_over: bool = True
    ) -> None:
        if turn_over and self.hands is not None:
            await self.hands.turn_ended()  # the outputs it left are listed by the time the session is idle
        await self.writer.settle([*step.prelude, *events], turn_over=turn_over)
        await self.harness.reached("turn_idle", self.writer.session_id)

    async def _handle_interrupt(self) -> None:
        state = self.writer.state
        events: list[NewEvent] = []
        if state.open_span is not None:
            events.append(emits.span_end(state.open_span.id, is_error=True))
        for call in state.open_calls():
            if call.runnable:
                events.append(result_event(call, ToolResult.error(f"{call.name}: {INTERRUPTED}")))
        events += state.outcome.interrupted()
        stop = state.idle_stop
        blocked = stop is not None and stop["type"] == "requires_action" and state.status == "idle"
        if state.turn_open or blocked:
            events.append(emits.idle({"type": "end_turn"}))
        await self.writer.settle(events)


def _failure(failed: ExtensionFailed) -> NewEvent:
    """A server-side tool of an extension that raised: named on the session; its error result answers the call."""
    return emits.session_error("unknown_error", failed.message, "retrying")


def notice_event(notice: ProvisionNotice) -> NewEvent:
    """A provisioning notice as the ``session.error`` it stands for (the session goes on: ``retrying``)."""
    error: JSONObject = {"type": notice.error_type, "message": notice.message, "retry_status": {"type": "retrying"}}
    return NewEvent("session.error", {"error": error | dict(notice.fields)})

"""Delegation (api.md §9, §17): a coordinator's ``delegate`` tool runs an agent of its roster in a child thread.

A call creates the thread with its task (``session.thread_created`` and ``agent.thread_message_sent`` on the
coordinator's log, the task as the thread's ``user.message``), in one transaction keyed by the call's id. The
thread is a row of its own, woken by any worker like a session; this executor follows its log until it ends its
turn and returns its last ``agent.message`` as the call's result, with ``agent.thread_message_received`` on the
coordinator's log. While following it cross-posts to the session's log, with ``session_thread_id``: the thread's
status changes (``session.thread_status_*``), and its calls that wait on the client (``ask`` permissions, custom
tools), whose answers, sent on the session, it routes back to the thread by id.

Invariants:

* Exactly once across crashes: the thread's id and every event this module writes have ids derived from what
  they answer (``derived``); each is written only if the log does not hold it yet, and a call made again after a
  crash (same tool use id) finds its thread and follows it from the start of its log.
* A cross-posted copy is never read by the coordinator's own turn (``cross_posted``): its fold and its context
  skip it.
* A thread never delegates: its agent definition carries no roster (depth 1).
"""

from __future__ import annotations

from typing import cast

import anyio

from corral._types import JSONObject, json_object
from corral.errors import InvalidRequest, ToolError
from corral.harness.roster import roster
from corral.harness.router import ToolCall
from corral.harness.thread_events import CROSS_POSTED, cross_post_id, derived
from corral.sandbox import ToolResult
from corral.session import Closed, Event, NewEvent, SessionStore
from corral.session.thread_store import Delegation, NewThread, primary_thread_id
from corral.vocab.events import EventType
from corral.vocab.tools import DELEGATE

_STATUS: dict[str, EventType] = {
    "session.status_running": "session.thread_status_running",
    "session.status_idle": "session.thread_status_idle",
    "session.status_rescheduled": "session.thread_status_rescheduled",
    "session.status_terminated": "session.thread_status_terminated",
}
_ANSWERS = {"user.tool_confirmation": "tool_use_id", "user.custom_tool_result": "custom_tool_use_id"}


class DelegationExecutor:
    """The server-side executor of ``delegate`` (wired beside ``web_fetch`` and the others)."""

    def __init__(self, store: SessionStore):
        self.store = store

    @property
    def names(self) -> frozenset[str]:
        return frozenset({DELEGATE})

    async def execute(self, call: ToolCall) -> ToolResult:
        session = await self.store.get_session(call.session_id)
        agents = roster(session.doc.get("agent") or {})
        name, message = call.input.get("agent"), call.input.get("message")
        if not isinstance(name, str) or name not in agents:
            raise ToolError(f"no agent named {name!r} on the roster (agents: {', '.join(agents)})")
        if not isinstance(message, str) or not message.strip():
            raise ToolError("message must be the task, as text")
        primary = primary_thread_id(session.id)
        thread = NewThread(session.id, derived("thread", call.tool_use_id), primary, agents[name], name)
        try:
            await self.store.threads.delegate(Delegation(thread, message, derived("event", f"sent:{call.tool_use_id}")))
        except InvalidRequest as exc:
            raise ToolError(exc.message) from None
        try:
            return await _Follow(self.store, session.id, thread.thread_id, name).run()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._pass_interrupt(session.id, call.tool_use_id, thread.thread_id)
            raise

    async def _pass_interrupt(self, session_id: str, tool_use_id: str, thread_id: str) -> None:
        """The user interrupted the coordinator while its thread ran: interrupt the thread too (a call cancelled
        for any other reason, a lost lease or a shutdown, leaves the thread to run on)."""
        call = await self.store.find_event(session_id, tool_use_id)
        after = await self.store.get_events(session_id, call.seq + 1) if call is not None else []
        for event in after:
            if event.type == "user.interrupt":
                interrupt = NewEvent("user.interrupt", queued=True, id=derived("event", f"interrupt:{thread_id}"))
                await _once(self.store, thread_id, interrupt)
                return


class _Follow:
    """One delegation followed to its end: the thread's log read from its start, then live."""

    def __init__(self, store: SessionStore, session_id: str, thread_id: str, name: str):
        self.store, self.session_id, self.thread_id, self.name = store, session_id, thread_id, name
        self.copies: dict[str, str] = {}  # cross-posted copy id → the thread's own event id
        self.early: dict[str, Event] = {}  # answers read before the copy they answer (a takeover reads both logs)
        self.answer: list[str] = []
        self.result: ToolResult | None = None

    async def run(self) -> ToolResult:
        async with anyio.create_task_group() as group:
            group.start_soon(self._answers, group.cancel_scope)
            await self._thread()
            group.cancel_scope.cancel()
        assert self.result is not None
        received: JSONObject = {
            "from_session_thread_id": self.thread_id,
            "from_agent_name": self.name,
            "content": self.result.content,
        }
        await self._once(
            self.session_id,
            NewEvent("agent.thread_message_received", received, id=derived("event", f"received:{self.thread_id}")),
        )
        return self.result

    async def _thread(self) -> None:
        async with self.store.subscribe(self.thread_id) as subscriber:
            for event in await self.store.get_events(self.thread_id, 1, subscriber.after + 1):
                if await self._on_thread(event):
                    return
            async for item in subscriber.receive:
                if isinstance(item, Closed):
                    self.result = ToolResult.error(f"{self.name}: the thread is gone")
                    return
                if isinstance(item, Event) and await self._on_thread(item):
                    return

    async def _on_thread(self, event: Event) -> bool:
        """Cross-post what the session must see; True once the thread's turn is over."""
        data = event.data()
        if event.type == "agent.message":
            self.answer = [str(block.get("text", "")) for block in cast(list[JSONObject], data.get("content") or [])]
        elif _waits_on_client(event):
            await self._cross_post(event)
        status = _STATUS.get(event.type)
        if status is None:
            return False
        posted: JSONObject = {CROSS_POSTED: self.thread_id, "agent_name": self.name}
        if event.type == "session.status_idle":
            posted["stop_reason"] = data.get("stop_reason")
        await self._once(self.session_id, NewEvent(status, posted, id=derived("event", f"status:{event.id}")))
        stop = json_object(data.get("stop_reason")) or {}
        if event.type == "session.status_terminated":
            self.result = ToolResult.error(f"{self.name}: the thread was terminated before it answered")
            return True
        if event.type == "session.status_idle" and stop.get("type") != "requires_action":
            text = "\n".join(part for part in self.answer if part) or f"{self.name} ended its turn without a message"
            self.result = ToolResult.text(text, is_error=stop.get("type") != "end_turn")
            return True
        return False

    async def _cross_post(self, event: Event) -> None:
        copy_id = cross_post_id(event.id)
        self.copies[copy_id] = event.id
        await self._once(
            self.session_id, NewEvent(event.type, {**event.data(), CROSS_POSTED: self.thread_id}, id=copy_id)
        )
        if copy_id in self.early:
            await self._on_session(self.early.pop(copy_id))

    async def _answers(self, scope: anyio.CancelScope) -> None:
        """Route the client's answers to cross-posted calls, sent on the session, to the thread."""
        async with self.store.subscribe(self.session_id) as subscriber:
            for event in await self.store.get_events(self.session_id, 1, subscriber.after + 1):
                await self._on_session(event)
            async for item in subscriber.receive:
                if isinstance(item, Closed):
                    return
                if isinstance(item, Event):
                    await self._on_session(item)

    async def _on_session(self, event: Event) -> None:
        key = _ANSWERS.get(event.type)
        if key is None:
            return
        data = event.data()
        original = self.copies.get(str(data.get(key)))
        if original is None:
            self.early[str(data.get(key))] = event
            return
        answer: JSONObject = {**{k: v for k, v in data.items() if k != CROSS_POSTED}, key: original}
        forwarded = NewEvent(event.type, answer, id=derived("event", f"answer:{event.id}"))
        await self._once(self.thread_id, forwarded)
        await self.store.mark_processed(self.session_id, [event.id])

    async def _once(self, log_id: str, event: NewEvent) -> None:
        await _once(self.store, log_id, event)


async def _once(store: SessionStore, log_id: str, event: NewEvent) -> None:
    """Append ``event`` (its id derived from what it answers) unless the log holds it already."""
    assert event.id is not None
    if await store.find_event(log_id, event.id) is None:
        await store.emit_event(log_id, event)


def _waits_on_client(event: Event) -> bool:
    if event.type == "agent.custom_tool_use":
        return True
    return event.type in ("agent.tool_use", "agent.mcp_tool_use") and event.data().get("evaluated_permission") == "ask"

"""``wake(harness, fence)``: drive one session while holding its lease, until the log says there is nothing to do.

Crash-recovery policy (what a wake does with whatever a dead worker left behind):

* The worker that wakes a session reads the whole log and folds it (``log.TurnState``); it knows what the
  dead worker knew. When the log shows a turn in progress that this worker did not start, it writes
  ``session.status_rescheduled`` then ``session.status_running`` and **finishes the turn**.
* A worker whose own last wake of the session ended cleanly continues that wake's log instead (``harness.warm``):
  it reads only from the first row that may have changed since (a queued event's stamp), or else the last row
  it held, to the end; the result is the log and fold a whole read would give, so a turn's cost does not grow
  with the session's length. A wake that raised keeps no log; the log in the store stays the only truth.
* A ``span.model_request_start`` without its end (the worker died mid-stream): the span is closed with
  ``span.model_request_end`` ``is_error: true`` and the request is made again from the same log, so it
  is the same request. Nothing of the lost response was written: a response and its closing span are one
  append.
* An ``agent.tool_use`` that is allowed and has no ``agent.tool_result`` (the worker died between writing
  the call and writing its result, or mid-tool): ``execute`` is called again with the same
  ``tool_use_id``. The sandbox journal (``sandbox.base``) runs it only if it never started; a call that
  finished returns its recorded result; a call that started and never finished returns an
  ``interrupted`` error result. No side effect ever runs twice. Server-side executors get the same
  ``tool_use_id`` and must be idempotent or journalled.
* Calls that wait on the client (custom tools, ``always_ask`` confirmations, built-in calls of a
  ``self_hosted`` environment) need nothing: the session is idle ``requires_action`` in the log (or the
  takeover writes that idle event) and the answer wakes it.
* Queued ``user.message``s are in the log; they are taken up by the next model request whoever makes it.

Invariants of a wake: it holds the lease for its whole duration, renewed every ``ttl / 3``; every write
is fenced, so a worker that lost its lease (paused, partitioned) writes nothing more; a
``user.interrupt`` seen on the session's live feed cancels the model stream or running tool at once.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any, cast

import anyio

from corral.errors import LeaseLost
from corral.harness.harness import Harness
from corral.harness.log import SessionLog
from corral.harness.turn import Turn
from corral.harness.warm import WarmLogs
from corral.session import Closed, Event, Fence, SessionRecord, SessionStore, Subscriber


async def wake(harness: Harness, fence: Fence) -> int:
    """Drive the session until it needs nothing more; returns the last log position the decisions saw."""
    store = harness.store
    session_id = fence.session_id
    async with AsyncExitStack() as stack:
        subscriber, record, log = await _open(stack, store, session_id, harness.warm)
        try:
            async with anyio.create_task_group() as group:
                # a child thread works in its session's sandbox (corral.session.threads)
                with harness.hands.use(str(record.doc.get("session_id") or session_id), group) as hands:
                    turn = Turn(harness, fence, log, record, hands)
                    turn.seen(subscriber.after)  # what was appended between the log read and the subscription
                    group.start_soon(_heartbeat, store, fence, harness.limits.lease_ttl)
                    group.start_soon(_watch, subscriber, turn)
                    await turn.run()
                    group.cancel_scope.cancel()
        except BaseExceptionGroup as group_error:
            raise _single(group_error) from None
    harness.warm.keep(log)  # only a wake that ended cleanly gets here
    return log.last_seq


async def _open(
    stack: AsyncExitStack, store: SessionStore, session_id: str, warm: WarmLogs
) -> tuple[Subscriber, SessionRecord, SessionLog]:
    """Subscribe to the session's live feed while reading it and its log (the whole log, or what follows the
    log this worker kept), all side by side.

    Whatever lands between the log read and the subscription is above neither; the subscriber's start
    position (``after``) tells the turn to read it (``Turn.seen``), so nothing falls in between.
    """
    found: dict[str, Any] = {}

    async def record() -> None:
        found["record"] = await store.get_session(session_id)

    async def events() -> None:
        found["log"] = await warm.read(store, session_id)

    async with anyio.create_task_group() as group:
        group.start_soon(record)
        group.start_soon(events)
        found["subscriber"] = await stack.enter_async_context(store.subscribe(session_id))
    return found["subscriber"], found["record"], found["log"]


def _single(group_error: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception a wake reports: ``LeaseLost`` if any task saw it, else the first failure."""
    lost = group_error.subgroup(LeaseLost)
    if lost is not None:
        return lost.exceptions[0]
    first = group_error.exceptions[0]
    if isinstance(first, BaseExceptionGroup):
        return _single(cast(BaseExceptionGroup[BaseException], first))
    return first


async def _heartbeat(store: SessionStore, fence: Fence, ttl: float) -> None:
    while True:
        await anyio.sleep(ttl / 3)
        await store.renew(fence, ttl)


async def _watch(subscriber: Subscriber, turn: Turn) -> None:
    """Follow the live log: note new positions, and stop running work when an interrupt arrives."""
    async for item in subscriber.receive:
        if isinstance(item, Closed):
            return
        if isinstance(item, Event):
            turn.seen(item.seq)
            if item.type == "user.interrupt":
                turn.interrupt()

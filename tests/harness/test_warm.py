"""Warm logs (``corral.harness.warm``): a worker's next wake of a session continues the log its last clean wake
kept, reading only from the first row that may have changed since; the result is the log and fold a whole read
gives, whoever wrote in between; a wake that raised keeps nothing.

The wakes are driven here one at a time (claim, ``wake``, release), as a worker pool drives them, so which worker
wakes a session, and when, is the test's choice rather than a race.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import pytest

from corral.harness import Runtime
from corral.harness.harness import Harness
from corral.harness.log import SessionLog
from corral.harness.wake import wake
from corral.harness.warm import WarmLogs
from corral.session import Event, NewEvent, SessionStore
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.harness.helpers import Points, agent, create_session, custom_tool, send, settings_for, user_message

pytestmark = pytest.mark.anyio

ASK_TOOLSET = {"type": "agent_toolset_20260401", "default_config": {"permission_policy": {"type": "always_ask"}}}
SCRIPT = {
    "replies": [
        reply(text("Hi.")),
        reply(tool_use("lookup", {"q": "llamas"})),
        reply(text("Looked it up.")),
        reply(tool_use("write", {"file_path": "/tmp/x", "content": "x"})),
        reply(text("Not written, then.")),
        reply(text("Fine.")),
    ],
    "repeat_last": True,
}


@asynccontextmanager
async def harnesses(store: SessionStore, count: int, points: Points | None = None) -> AsyncGenerator[list[Harness]]:
    """``count`` workers' harnesses (no pools: the test drives their wakes), against one scripted model server."""
    async with ScriptedModelServer(SCRIPT) as server:
        runtimes = [Runtime(store, settings_for(server.url), hook=points, pools=0) for _ in range(count)]
        try:
            yield [runtime.harness for runtime in runtimes]
        finally:
            for runtime in runtimes:
                await runtime.harness.aclose()


async def drive(harness: Harness, store: SessionStore, session_id: str) -> None:
    """One wake of the session by this harness's worker, as ``WorkerPool`` drives it."""
    fence = await store.claim_one(session_id, str(id(harness)), harness.limits.lease_ttl)
    assert fence is not None, "the session is not runnable"
    seen = await wake(harness, fence)
    assert await store.release(fence, seen)


async def turn(harness: Harness, store: SessionStore, session_id: str, *events: NewEvent) -> list[Event]:
    await send(store, session_id, *events)
    await drive(harness, store, session_id)
    return await store.get_events(session_id)


async def continued_is_fresh(harness: Harness, store: SessionStore, session_id: str) -> None:
    """The log the harness kept, caught up, is the log and fold of a whole read (and is kept again)."""
    continued = harness.warm.stats.continued
    log = await harness.warm.read(store, session_id)
    fresh = SessionLog(session_id, await store.get_events(session_id))
    assert harness.warm.stats.continued == continued + 1
    assert log.events == fresh.events
    assert log.state == fresh.state
    harness.warm.keep(log)


def last_call(events: list[Event], kind: str) -> str:
    return [event.id for event in events if event.type == kind][-1]


def tool_result(events: list[Event]) -> NewEvent:
    data = {
        "custom_tool_use_id": last_call(events, "agent.custom_tool_use"),
        "content": [{"type": "text", "text": "4"}],
    }
    return NewEvent("user.custom_tool_result", data, queued=True)


def deny(events: list[Event]) -> NewEvent:
    data = {"tool_use_id": last_call(events, "agent.tool_use"), "result": "deny"}
    return NewEvent("user.tool_confirmation", data, queued=True)


async def test_a_continued_log_is_a_whole_read_through_tools_confirmations_and_interrupts(store: SessionStore) -> None:
    points = Points()
    async with harnesses(store, 1, points) as (harness,):
        session_id = await create_session(store, agent(tools=[custom_tool("lookup"), ASK_TOOLSET]))
        await turn(harness, store, session_id, user_message("Hello"))
        events = await turn(harness, store, session_id, user_message("Look up llamas"))  # requires_action
        await turn(harness, store, session_id, tool_result(events))
        await continued_is_fresh(harness, store, session_id)
        events = await turn(harness, store, session_id, user_message("Write it down"))  # asks for a confirmation
        await turn(harness, store, session_id, deny(events))
        await continued_is_fresh(harness, store, session_id)

        async def interrupt(session_id: str) -> list[Event]:
            return await send(store, session_id, NewEvent("user.interrupt", {}, queued=True))

        points.once("model_request_started", interrupt)
        events = await turn(harness, store, session_id, user_message("Tell a long story"))
        assert "user.interrupt" in [event.type for event in events]
        await continued_is_fresh(harness, store, session_id)
        await turn(harness, store, session_id, user_message("Again"))
        await continued_is_fresh(harness, store, session_id)
    assert harness.warm.stats.whole == 1  # the first wake; every later one continued


async def test_a_wake_reads_only_from_the_rows_the_last_turn_left(store: SessionStore) -> None:
    async with harnesses(store, 1) as (harness,):
        session_id = await create_session(store, agent())
        for word in ("one", "two", "three", "four"):
            await turn(harness, store, session_id, user_message(word))
        before = harness.warm.stats.events_read
        events = await turn(harness, store, session_id, user_message("five"))
        read = harness.warm.stats.events_read - before
    # from the last turn's message (stamped after this worker had read it) to the new one, which is all there was
    fourth, fifth = [event.seq for event in events if event.type == "user.message"][3:]
    assert read == fifth - fourth + 1 < fifth
    assert harness.warm.stats.whole == 1


async def test_a_wake_that_raised_keeps_no_log(store: SessionStore) -> None:
    points = Points()
    async with harnesses(store, 1, points) as (harness,):
        session_id = await create_session(store, agent())
        await turn(harness, store, session_id, user_message("Hello"))
        assert session_id in harness.warm

        async def fail(session_id: str) -> None:
            raise RuntimeError("injected")

        points.once("response_recorded", fail)  # the response is in the log, the turn is not over
        await send(store, session_id, user_message("Again"))
        fence = await store.claim_one(session_id, "worker", harness.limits.lease_ttl)
        assert fence is not None
        with pytest.raises(RuntimeError, match="injected"):
            await wake(harness, fence)
        assert session_id not in harness.warm
        assert await store.release(fence, 0, runnable=True)  # what a pool does after a failure
        await drive(harness, store, session_id)  # the turn is finished from the log, read whole
        assert harness.warm.stats.whole == 2
        await continued_is_fresh(harness, store, session_id)


async def test_a_session_another_worker_woke_is_read_forward(store: SessionStore) -> None:
    async with harnesses(store, 2) as (mine, other):
        session_id = await create_session(store, agent())
        await turn(mine, store, session_id, user_message("one"))
        events = await turn(mine, store, session_id, user_message("two"))
        await turn(other, store, session_id, user_message("three"))  # the other worker reads the whole log
        assert other.warm.stats.whole == 1
        before = mine.warm.stats.events_read
        events = await turn(mine, store, session_id, user_message("four"))
        read = mine.warm.stats.events_read - before
        await continued_is_fresh(mine, store, session_id)
    second, fourth = [event.seq for event in events if event.type == "user.message"][1::2]
    assert read == fourth - second + 1  # from this worker's last stamped row on, the other worker's events too
    assert mine.warm.stats.continued == 3


async def test_a_kept_log_the_store_disagrees_with_is_read_whole(store: SessionStore) -> None:
    """A log longer than the session's, or not its own: refused, and the log read whole."""
    async with harnesses(store, 1) as (harness,):
        short = await create_session(store, agent())
        long = await create_session(store, agent())
        await turn(harness, store, long, user_message("one"))
        await turn(harness, store, long, user_message("two"))
        harness.warm.keep(SessionLog(short, await store.get_events(long)))  # ids are never reused: forged here
        log = await harness.warm.read(store, short)
        assert harness.warm.stats.refused == 1
        assert log.events == await store.get_events(short)


async def test_the_logs_kept_are_bounded_by_their_events(store: SessionStore) -> None:
    """Least recently kept dropped first; a log larger than the bound is never kept; a bound of 0 keeps none."""
    ids = [await create_session(store, agent(), user_message(word)) for word in ("one", "two", "three")]
    logs = [SessionLog(session_id, await store.get_events(session_id)) for session_id in ids]
    size = len(logs[0].events)
    assert all(len(log.events) == size for log in logs)
    warm = WarmLogs(2 * size)
    for log in logs:
        warm.keep(log)
    assert [session_id in warm for session_id in ids] == [False, True, True] and warm.held == 2 * size
    small = WarmLogs(size - 1)
    small.keep(logs[0])
    off = WarmLogs(0)
    off.keep(logs[0])
    assert ids[0] not in small and ids[0] not in off and small.held == off.held == 0

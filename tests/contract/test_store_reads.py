"""Reading the log: positional slices (``get_events``) and the filtered, keyset-paginated list."""

from __future__ import annotations

import anyio
import pytest

from corral.session import Event, EventQuery, NewEvent, SessionStore

from .helpers import make_session, message

pytestmark = pytest.mark.anyio


async def log_of(store: SessionStore, count: int) -> tuple[str, list[Event]]:
    record = await make_session(store)
    return record.id, await store.emit_events(record.id, [message(i) for i in range(count)])


async def test_slices_are_positional(store: SessionStore) -> None:
    sid, events = await log_of(store, 30)
    assert await store.get_events(sid) == events
    assert await store.get_events(sid, 1, 31) == events
    assert await store.get_events(sid, 10, 20) == events[9:19]
    assert await store.get_events(sid, 30) == events[29:]
    assert await store.get_events(sid, 29, 1000) == events[28:]
    assert await store.get_events(sid, 0, 3) == events[:2]  # positions start at 1
    assert await store.get_events(sid, -5, 2) == events[:1]


async def test_empty_and_past_the_end_slices(store: SessionStore) -> None:
    sid, _ = await log_of(store, 5)
    assert await store.get_events(sid, 6) == []
    assert await store.get_events(sid, 100, 200) == []
    assert await store.get_events(sid, 3, 3) == []
    assert await store.get_events(sid, 4, 2) == []
    empty = await make_session(store)
    assert await store.get_events(empty.id) == []
    assert await store.get_events("sesn_unknown", 1, 10) == []


async def test_slices_only_see_their_session(store: SessionStore) -> None:
    a, events_a = await log_of(store, 4)
    b, events_b = await log_of(store, 3)
    assert await store.get_events(a) == events_a
    assert await store.get_events(b) == events_b
    assert await store.find_event(b, events_a[0].id) is None


async def test_slices_while_appending_are_prefixes(store: SessionStore) -> None:
    """A read racing appends returns exactly the first-written events at the positions it covers."""
    sid, first = await log_of(store, 10)
    written = {e.seq: e for e in first}
    seen: list[list[Event]] = []

    async def append() -> None:
        for n in range(100):
            for event in await store.emit_events(sid, [message(n, "a"), message(n, "b")]):
                written[event.seq] = event

    async def read() -> None:
        for start in range(1, 150, 3):
            seen.append(await store.get_events(sid, start, start + 20))

    async with anyio.create_task_group() as tg:
        tg.start_soon(append)
        tg.start_soon(read)
    for got in seen:
        if got:
            assert [e.seq for e in got] == list(range(got[0].seq, got[0].seq + len(got)))
            assert all(written[e.seq] == e for e in got)


async def page_all(store: SessionStore, query: EventQuery) -> list[Event]:
    found: list[Event] = []
    after: int | None = None
    while True:
        page, more = await store.list_events(
            EventQuery(
                query.session_id,
                query.order,
                query.limit,
                after,
                query.types,
                query.created_gt,
                query.created_gte,
                query.created_lt,
                query.created_lte,
            )
        )
        found += page
        if not more:
            return found
        after = page[-1].seq


async def test_list_events_order_and_keyset_pages(store: SessionStore) -> None:
    sid, events = await log_of(store, 23)
    assert await page_all(store, EventQuery(sid, "asc", 5)) == events
    assert await page_all(store, EventQuery(sid, "desc", 5)) == events[::-1]
    assert await page_all(store, EventQuery(sid, "asc", 23)) == events
    page, more = await store.list_events(EventQuery(sid, "asc", 23))
    assert page == events and not more
    page, more = await store.list_events(EventQuery(sid, "asc", 22))
    assert page == events[:22] and more


async def test_list_events_filters(store: SessionStore) -> None:
    record = await make_session(store)
    sid = record.id
    running = await store.emit_event(sid, NewEvent("session.status_running"))
    first = await store.emit_events(sid, [message(i) for i in range(3)])
    queued = await store.emit_event(sid, NewEvent("user.message", {"content": []}, queued=True))
    idle = await store.emit_event(sid, NewEvent("session.status_idle", {"stop_reason": {"type": "end_turn"}}))
    everything = [running, *first, queued, idle]
    assert await page_all(store, EventQuery(sid, "asc", 2, types=("agent.message",))) == first
    statuses = ("session.status_idle", "session.status_running")
    assert await page_all(store, EventQuery(sid, "desc", 10, types=statuses)) == [idle, running]
    # time filters compare processed_at (queued events: created_at until processed)
    stamp = first[1].created_at
    later = [e for e in everything if (e.processed_at or e.created_at) > stamp]
    assert await page_all(store, EventQuery(sid, "asc", 10, created_gt=stamp)) == later
    not_later = [e for e in everything if (e.processed_at or e.created_at) <= stamp]
    assert await page_all(store, EventQuery(sid, "asc", 10, created_lte=stamp)) == not_later
    assert await page_all(store, EventQuery(sid, "asc", 10, created_gte=stamp, created_lt=stamp)) == []
    assert await page_all(store, EventQuery(sid, "asc", 10, types=("agent.tool_use",))) == []

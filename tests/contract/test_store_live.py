"""Live tail (``subscribe``): in order, no gaps, no replay; across processes; many and slow subscribers;
deleted sessions; deltas (live-only, opted-in)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from corral.db import Database
from corral.session import Closed, Delta, Event, NewEvent, SessionStore, Subscriber

from .helpers import WORKSPACE, make_session, message
from .procs import child

pytestmark = pytest.mark.anyio


async def receive(subscriber: Subscriber, count: int) -> list[Event | Delta | Closed]:
    got: list[Event | Delta | Closed] = []
    with anyio.fail_after(30):
        while len(got) < count:
            got.append(await subscriber.receive.receive())
    return got


async def events_of(subscriber: Subscriber, count: int) -> list[Event]:
    got = await receive(subscriber, count)
    assert all(isinstance(item, Event) for item in got), got
    return [item for item in got if isinstance(item, Event)]


async def test_tail_is_in_order_without_gaps_or_replay(store: SessionStore) -> None:
    record = await make_session(store)
    await store.emit_events(record.id, [message(i) for i in range(5)])
    async with store.subscribe(record.id) as subscriber:
        assert subscriber.after == 5

        async def writer(tag: str) -> None:
            for n in range(10):
                batch = [message(n, tag)] * (1 + n % 3)
                await store.emit_events(record.id, batch)

        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(writer, f"w{i}")
        total = (await store.get_session(record.id)).last_seq
        got = await events_of(subscriber, total - 5)
        assert [e.seq for e in got] == list(range(6, total + 1))
        assert got == await store.get_events(record.id, 6)
        marker = await store.emit_event(record.id, message(0, "marker"))
        assert await events_of(subscriber, 1) == [marker]  # and nothing else before it


async def test_subscriber_joining_mid_stream_starts_where_it_says(store: SessionStore) -> None:
    record = await make_session(store)
    async with store.subscribe(record.id) as first:
        await store.emit_events(record.id, [message(i) for i in range(3)])
        await events_of(first, 3)
        async with store.subscribe(record.id) as late:
            assert late.after == 3
            await store.emit_event(record.id, message(3))
            (only,) = await events_of(late, 1)
            assert only.seq == 4
        assert [e.seq for e in await events_of(first, 1)] == [4]


async def test_session_events_from_update_and_archive_reach_subscribers(store: SessionStore) -> None:
    record = await make_session(store)
    async with store.subscribe(record.id) as subscriber:
        await store.update_session(record.id, WORKSPACE, {"title": "renamed"})
        await store.archive_session(record.id, WORKSPACE)
        got = await events_of(subscriber, 2)
    assert [(e.seq, e.type) for e in got] == [(1, "session.updated"), (2, "session.status_terminated")]


async def test_two_hundred_subscribers_get_everything(store: SessionStore) -> None:
    record = await make_session(store)
    results: list[list[int]] = []
    ready = anyio.Event()

    async def subscriber_task() -> None:
        async with store.subscribe(record.id) as subscriber:
            results.append([])
            if len(results) == 200:
                ready.set()
            mine = results[-1]
            for event in await events_of(subscriber, 60):
                mine.append(event.seq)

    async with anyio.create_task_group() as tg:
        for _ in range(200):
            tg.start_soon(subscriber_task)
        await ready.wait()
        for n in range(20):
            await store.emit_event(record.id, message(n))
        await store.emit_events(record.id, [message(n) for n in range(20, 60)])
    assert len(results) == 200
    assert all(seqs == list(range(1, 61)) for seqs in results)


async def test_slow_subscriber_is_cut_off_alone(database: Database) -> None:
    store = SessionStore(database, subscriber_buffer=16)
    try:
        record = await make_session(store)
        async with store.subscribe(record.id) as slow, store.subscribe(record.id) as fast:
            got: list[int] = []

            async def read_fast() -> None:
                for event in await events_of(fast, 100):
                    got.append(event.seq)

            async with anyio.create_task_group() as tg:
                tg.start_soon(read_fast)
                for n in range(100):
                    await store.emit_event(record.id, message(n))
            assert got == list(range(1, 101))
            items = await receive(slow, 17)
            assert [e.seq for e in items if isinstance(e, Event)] == list(range(1, 17))
            assert items[-1] == Closed("slow_consumer")
            with anyio.fail_after(5):
                assert [item async for item in slow.receive] == []
    finally:
        await store.aclose()


async def test_deleting_a_session_ends_its_streams(store: SessionStore) -> None:
    record = await make_session(store)
    other = await make_session(store)
    async with store.subscribe(record.id) as a, store.subscribe(record.id) as b, store.subscribe(other.id) as c:
        await store.emit_event(record.id, message(1))
        await store.delete_session(record.id, WORKSPACE)
        await store.emit_event(other.id, message(2))
        for subscriber in (a, b):
            first, deleted, closed = await receive(subscriber, 3)
            assert isinstance(first, Event) and first.seq == 1
            assert isinstance(deleted, Event) and deleted.type == "session.deleted"
            assert closed == Closed("deleted")
        (survivor,) = await events_of(c, 1)
        assert survivor.seq == 1 and survivor.session_id == other.id


async def test_deltas_reach_opted_in_subscribers_only_and_are_never_stored(store: SessionStore) -> None:
    record = await make_session(store)
    wanted = frozenset({"agent.message"})
    async with store.subscribe(record.id, wanted) as opted, store.subscribe(record.id) as plain:
        start = Delta(record.id, {"type": "event_start", "event": {"type": "agent.message", "id": "x"}})
        await store.publish_delta(start, "agent.message")
        chunk = Delta(record.id, {"type": "event_delta", "delta": {"text": "hel"}})
        await store.publish_delta(chunk, "agent.message")
        await store.publish_delta(Delta(record.id, {"type": "event_delta", "delta": {}}), "agent.thinking")
        final = await store.emit_event(record.id, message(1))
        got = await receive(opted, 3)
        assert got[0] == start
        assert got[1] == Delta(record.id, {"type": "event_delta", "delta": {"text": "hel"}})
        assert got[2] == final
        assert await receive(plain, 1) == [final]
    assert await store.get_events(record.id) == [final]


async def test_subscriber_in_another_process_sees_our_events(store: SessionStore, db_url: str, tmp_path: Path) -> None:
    record = await make_session(store)
    await store.emit_events(record.id, [message(i) for i in range(3)])
    async with child(tmp_path, "subscribe", db_url, "--session", record.id, "--count", "40") as proc:
        assert (await proc.expect("ready"))[1] == "3"
        written: list[Event] = []
        for n in range(20):
            written.append(await store.emit_event(record.id, message(n)))
        written += await store.emit_events(record.id, [message(n) for n in range(20, 40)])
        lines = await proc.lines()
        await proc.succeed()
    assert [line.split()[1:3] for line in lines] == [[str(e.seq), e.id] for e in written]


async def test_we_see_events_written_by_another_process(store: SessionStore, db_url: str, tmp_path: Path) -> None:
    record = await make_session(store)
    async with store.subscribe(record.id) as subscriber:
        args = ["append", db_url, "--session", record.id, "--count", "30", "--tasks", "3"]
        async with child(tmp_path, *args) as proc:
            acks = {int(line.split()[1]): line.split()[2] for line in await proc.lines()}
            await proc.succeed()
        got = await events_of(subscriber, 30)
    assert [e.seq for e in got] == list(range(1, 31))
    assert {e.seq: e.id for e in got} == acks


async def test_deletion_in_another_process_ends_our_streams(store: SessionStore, db_url: str, tmp_path: Path) -> None:
    record = await make_session(store)
    async with child(tmp_path, "subscribe", db_url, "--session", record.id, "--count", "100") as proc:
        await proc.expect("ready")
        await store.emit_event(record.id, message(1))
        assert (await proc.expect("got"))[1] == "1"
        await store.delete_session(record.id, WORKSPACE)
        lines = await proc.lines()
        await proc.succeed()
    assert [line.split() for line in lines] == [
        ["got", "2", lines[0].split()[2], "session.deleted"],
        ["closed", "deleted"],
    ]


async def test_status_events_written_elsewhere_wake_no_one_twice(store: SessionStore) -> None:
    """A doorbell for an already delivered position delivers nothing again."""
    record = await make_session(store)
    async with store.subscribe(record.id) as subscriber:
        event = await store.emit_event(record.id, NewEvent("session.status_running"))
        store.broker.on_events(f"{record.id}:{event.seq}")
        store.broker.on_events(None)
        assert await events_of(subscriber, 1) == [event]
        marker = await store.emit_event(record.id, message(0, "marker"))
        assert await events_of(subscriber, 1) == [marker]  # and nothing else before it
        assert subscriber.receive.statistics().current_buffer_used == 0


async def test_an_event_committed_between_the_read_and_the_attach_is_delivered(store: SessionStore) -> None:
    """The window in ``subscribe``: the caller read the session (position N), then the last event of a turn was
    committed and its doorbell rang while no feed listened here. The new feed reads past N by itself."""
    record = await make_session(store)
    seen = (await store.get_session(record.id)).last_seq
    last = await store.emit_event(record.id, message(0, "the turn's last event"))
    subscriber = store.broker.attach(record.id, seen, frozenset())
    try:
        assert subscriber.after == seen
        assert await events_of(subscriber, 1) == [last]
        marker = await store.emit_event(record.id, message(1, "marker"))
        assert await events_of(subscriber, 1) == [marker]  # and nothing twice
    finally:
        store.broker.detach(record.id, subscriber)

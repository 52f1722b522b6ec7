"""Appending: what ``emit_event`` returns, that it is durable, and dense unique positions under concurrency
(many tasks in one process, several OS processes on one database)."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from corral.db import UniqueViolation
from corral.db.engines import open_database
from corral.errors import LeaseLost, NotFound
from corral.ids import is_id, parse_rfc3339
from corral.session import Event, Fence, NewEvent, SessionStore

from .helpers import make_session, message, runnable_session
from .procs import Child, children

pytestmark = pytest.mark.anyio


async def test_emit_returns_the_stored_event(store: SessionStore) -> None:
    record = await make_session(store)
    event = await store.emit_event(record.id, message(1))
    assert (event.session_id, event.seq, event.type) == (record.id, 1, "agent.message")
    assert is_id("event", event.id)
    assert event.processed_at == event.created_at
    parse_rfc3339(event.created_at)
    assert event.data() == {"content": [{"type": "text", "text": "t 1"}], "tag": "t", "n": 1}
    assert event.wire() == {"type": "agent.message", "id": event.id, "processed_at": event.processed_at, **event.data()}
    assert await store.get_events(record.id) == [event]
    assert await store.find_event(record.id, event.id) == event
    session = await store.get_session(record.id)
    assert session.last_seq == 1 and session.updated_at == event.created_at


async def test_emit_is_durable_across_reopen(db_url: str) -> None:
    """Acknowledged means committed: a brand-new engine on the same database reads the same events."""
    db = open_database(db_url)
    await db.open()
    store = SessionStore(db)
    record = await make_session(store)
    written = [await store.emit_event(record.id, message(i)) for i in range(20)]
    written += await store.emit_events(record.id, [message(i) for i in range(20, 30)])
    await store.aclose()
    await db.close()
    again = open_database(db_url)
    await again.open()
    try:
        assert await SessionStore(again).get_events(record.id) == written
    finally:
        await again.close()


async def test_queued_client_events_have_no_processed_at_until_marked(store: SessionStore) -> None:
    record = await make_session(store)
    queued = await store.emit_event(record.id, NewEvent("user.message", {"content": []}, queued=True))
    assert queued.processed_at is None
    assert await store.mark_processed(record.id, [queued.id]) == 1
    assert await store.mark_processed(record.id, [queued.id]) == 0
    (stored,) = await store.get_events(record.id)
    assert stored.processed_at is not None and stored.payload == queued.payload and stored.id == queued.id


async def test_emit_to_unknown_session_is_not_found(store: SessionStore) -> None:
    with pytest.raises(NotFound):
        await store.emit_event("sesn_missing", message(1))
    record = await make_session(store)
    assert await store.emit_events(record.id, []) == []
    assert (await store.get_session(record.id)).last_seq == 0


async def test_client_supplied_event_id_is_kept(store: SessionStore) -> None:
    record = await make_session(store)
    event = await store.emit_event(record.id, NewEvent("agent.message", {"n": 1}, id="sevt_chosen"))
    assert event.id == "sevt_chosen"
    assert await store.find_event(record.id, "sevt_chosen") == event


async def test_a_refused_append_leaves_no_trace(store: SessionStore) -> None:
    """One event whose id is taken is refused whole (position, bytes and log unchanged), and a stale fence is
    refused as ``LeaseLost`` even when the event's id is taken as well (the fence is judged first)."""
    record = await runnable_session(store)
    fence = await store.claim_one(record.id, "a", 30)
    assert fence is not None
    kept = await store.emit_event(record.id, NewEvent("agent.message", {"n": 1}, id="sevt_taken"), fence=fence)
    before = await store.get_session(record.id)
    with pytest.raises(UniqueViolation):
        await store.emit_event(record.id, NewEvent("agent.message", {"n": 2}, id="sevt_taken"), fence=fence)
    stale = Fence(record.id, "a", fence.token - 1)
    with pytest.raises(LeaseLost):
        await store.emit_event(record.id, NewEvent("agent.message", {"n": 3}, id="sevt_taken"), fence=stale)
    with pytest.raises(LeaseLost):
        await store.emit_event(record.id, message(4), fence=stale)
    after = await store.get_session(record.id)
    assert (after.last_seq, after.updated_at) == (before.last_seq, before.updated_at)
    assert (await store.get_events(record.id))[-1] == kept
    assert (await store.emit_event(record.id, message(5), fence=fence)).seq == kept.seq + 1


async def test_concurrent_appends_fail_alone(store: SessionStore) -> None:
    """Appends made at once may share a transaction (group commit): a refused one (stale fence, taken id) fails
    with its own error and leaves nothing; every other one is stored where its acknowledgement says."""
    records = [await runnable_session(store) for _ in range(4)]
    fences = [fence for record in records if (fence := await store.claim_one(record.id, "w", 30)) is not None]
    taken = await store.emit_event(records[0].id, NewEvent("agent.message", {"n": -1}, id="sevt_taken"))
    writes: list[tuple[Fence, int, str | None]] = [(fences[n % 4], n, None) for n in range(24)]
    writes.insert(9, (Fence(records[1].id, "w", fences[1].token - 1), 100, None))  # stale
    writes.insert(14, (fences[2], 101, "sevt_taken"))
    acks: list[Event] = []
    refused: dict[int, str] = {}

    async def append(fence: Fence, n: int, event_id: str | None) -> None:
        event = NewEvent("agent.message", {"n": n}, id=event_id)
        try:
            acks.append(await store.emit_event(fence.session_id, event, fence=fence))
        except (LeaseLost, UniqueViolation) as exc:
            refused[n] = type(exc).__name__

    async with anyio.create_task_group() as group:
        for write in writes:
            group.start_soon(append, *write)
    assert refused == {100: "LeaseLost", 101: "UniqueViolation"}
    stored = {e.seq: e for e in await store.get_events(records[0].id)}
    assert stored[taken.seq] == taken
    for index, record in enumerate(records):
        events = await store.get_events(record.id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        numbers = [e.data()["n"] for e in events if e.type == "agent.message" and e.id != taken.id]
        assert sorted(numbers) == [n for n in range(24) if n % 4 == index]
    assert sorted(acks, key=lambda e: (e.session_id, e.seq)) == sorted(
        [e for r in records for e in await store.get_events(r.id) if e.data().get("n", -1) >= 0],
        key=lambda e: (e.session_id, e.seq),
    )


async def test_appends_cancelled_while_waiting_hold_nobody_up(store: SessionStore) -> None:
    """Callers cancelled while their appends wait (for a group, on PostgreSQL) hold up neither the appends made
    with them nor later ones; whatever of theirs was written is in its place."""
    record = await make_session(store)
    acks: list[Event] = []

    async def append(n: int) -> None:
        acks.append(await store.emit_event(record.id, message(n)))

    async with anyio.create_task_group() as group:
        group.start_soon(append, 0)
        await anyio.lowlevel.checkpoint()  # its append is on its way
        async with anyio.create_task_group() as doomed:
            for n in range(1, 7):
                doomed.start_soon(append, n)
            await anyio.lowlevel.checkpoint()  # every one of them has handed its append over
            doomed.cancel_scope.cancel()
        for n in range(7, 12):  # queued behind the cancelled ones
            group.start_soon(append, n)
    acks.append(await store.emit_event(record.id, message(12)))
    events = await store.get_events(record.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(event in events for event in acks) and {0, 7, 8, 9, 10, 11, 12} <= {e.data()["n"] for e in acks}


def assert_dense(events: list[Event], acks: dict[int, str]) -> None:
    """Positions 1..n, each once, and every acknowledged (seq, id) is exactly what is stored."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    stored = {e.seq: e.id for e in events}
    assert len(set(stored.values())) == len(events)
    for seq, event_id in acks.items():
        assert stored[seq] == event_id


async def test_concurrent_tasks_get_dense_unique_positions(store: SessionStore) -> None:
    record = await make_session(store)
    acks: dict[int, str] = {}

    async def writer(tag: str) -> None:
        for n in range(15):
            batch = [message(n, tag)] if n % 3 else [message(n, tag), message(n, tag + "+")]
            for event in await store.emit_events(record.id, batch):
                assert event.seq not in acks
                acks[event.seq] = event.id

    async with anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(writer, f"w{i}")
    events = await store.get_events(record.id)
    assert len(events) == len(acks) == 40 * 20
    assert_dense(events, acks)
    # each writer's own events appear in the order it wrote them
    for i in range(40):
        mine = [e.data()["n"] for e in events if e.data()["tag"] == f"w{i}"]
        assert mine == sorted(mine)


async def test_processes_appending_to_one_session(store: SessionStore, db_url: str, tmp_path: Path) -> None:
    """Three OS processes (each with 4 tasks) and this one append to the same session at the same time."""
    record = await make_session(store)
    acks: dict[int, str] = {}
    tags = [f"p{i}" for i in range(3)]
    argvs = [["append", db_url, "--session", record.id, "--count", "50", "--tasks", "4", "--tag", tag] for tag in tags]

    async def collect(proc: Child) -> None:
        for line in await proc.lines():
            word, seq, event_id, _ = line.split()
            assert word == "ack" and int(seq) not in acks
            acks[int(seq)] = event_id
        await proc.succeed()

    async def run_here() -> None:
        for n in range(50):
            event = await store.emit_event(record.id, message(n, "parent"))
            acks[event.seq] = event.id

    async with children(tmp_path, argvs) as procs, anyio.create_task_group() as tg:
        for proc in procs:
            tg.start_soon(collect, proc)
        tg.start_soon(run_here)
    events = await store.get_events(record.id)
    assert len(events) == len(acks) == 200
    assert_dense(events, acks)
    assert {e.data()["tag"] for e in events} == {*tags, "parent"}

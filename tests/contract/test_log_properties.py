"""Property: whatever the interleaving of appends (several writers on two engines, with and without fences,
some of them stale) and reads, positions stay dense and unique, and a read of ``[a, b)`` returns exactly
the events first written at those positions (a prefix of them if the read raced the appends).

Each example is a list of rounds; the operations of a round run concurrently, the lease changes (claim,
release) run between rounds, so the model knows which fence is current when a round starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral.db import Database
from corral.db.engines import open_database
from corral.errors import LeaseLost
from corral.session import Event, Fence, NewEvent, SessionStore

from .helpers import runnable_session

pytestmark = pytest.mark.anyio

WRITERS = 3


@dataclass(frozen=True)
class Append:
    writer: int
    count: int
    fenced: bool


@dataclass(frozen=True)
class Read:
    start: int
    length: int


@dataclass(frozen=True)
class Claim:
    writer: int


@dataclass(frozen=True)
class Release:
    writer: int


Op = Append | Read
Round = list[Op] | Claim | Release

appends = st.builds(Append, st.integers(0, WRITERS - 1), st.integers(1, 3), st.booleans())
reads = st.builds(Read, st.integers(-2, 45), st.integers(0, 15))
concurrent = st.lists(st.one_of(appends, reads), min_size=1, max_size=5)
rounds = st.lists(
    st.one_of(
        concurrent, st.builds(Claim, st.integers(0, WRITERS - 1)), st.builds(Release, st.integers(0, WRITERS - 1))
    ),
    min_size=1,
    max_size=8,
)


@pytest.fixture
async def stores(db_url: str) -> AsyncIterator[list[SessionStore]]:
    """Two engines on one database: as far as each knows, the other is another process."""
    databases: list[Database] = [open_database(db_url), open_database(db_url)]
    for db in databases:
        await db.open()
    made = [SessionStore(db) for db in databases]
    try:
        yield made
    finally:
        for store, db in zip(made, databases, strict=True):
            await store.aclose()
            await db.close()


class Model:
    def __init__(self, stores: list[SessionStore], session_id: str, written: list[Event]):
        self.stores = stores
        self.session_id = session_id
        self.log: dict[int, Event] = {e.seq: e for e in written}
        self.fences: dict[int, Fence] = {}  # the last fence each writer got (possibly stale)
        self.holder: int | None = None

    @property
    def last(self) -> int:
        return len(self.log)

    def store(self, writer: int) -> SessionStore:
        return self.stores[writer % len(self.stores)]

    async def claim(self, op: Claim) -> None:
        fence = await self.store(op.writer).claim_one(self.session_id, f"w{op.writer}", 60)
        assert (fence is not None) == (self.holder is None)
        if fence is not None:
            self.fences[op.writer], self.holder = fence, op.writer

    async def release(self, op: Release) -> None:
        fence = self.fences.get(op.writer)
        if fence is None:
            return
        released = await self.store(op.writer).release(fence, self.last, runnable=True)
        assert released == (self.holder == op.writer)
        if released:
            self.holder = None

    async def run_round(self, ops: list[Op]) -> None:
        before = self.last
        appended: list[list[Event]] = []
        seen: list[tuple[Read, list[Event]]] = []

        async def append(op: Append) -> None:
            fence = self.fences.get(op.writer) if op.fenced else None
            batch = [NewEvent("agent.message", {"w": op.writer, "i": i}) for i in range(op.count)]
            current = fence is None or self.holder == op.writer
            try:
                appended.append(await self.store(op.writer).emit_events(self.session_id, batch, fence=fence))
                assert current, "a stale fence wrote"
            except LeaseLost:
                assert not current, "the current fence was refused"

        async def read(op: Read) -> None:
            start = op.start
            got = await self.store(op.length).get_events(self.session_id, start, start + op.length)
            seen.append((op, got))

        async with anyio.create_task_group() as tg:
            for op in ops:
                tg.start_soon(append if isinstance(op, Append) else read, op)  # type: ignore[arg-type]
        self.check_appends(before, appended)
        for op, got in seen:
            self.check_read(op, got, before)

    def check_appends(self, before: int, appended: list[list[Event]]) -> None:
        new = sorted((e for batch in appended for e in batch), key=lambda e: e.seq)
        assert [e.seq for e in new] == list(range(before + 1, before + len(new) + 1))  # dense and unique
        for batch in appended:
            assert [e.seq for e in batch] == list(range(batch[0].seq, batch[0].seq + len(batch)))
        self.log.update({e.seq: e for e in new})

    def check_read(self, op: Read, got: list[Event], before: int) -> None:
        first = max(op.start, 1)
        end = op.start + op.length
        assert [e.seq for e in got] == list(range(first, first + len(got)))
        assert all(self.log[e.seq] == e for e in got)  # exactly what was first written there
        assert first + len(got) <= max(first, min(end, self.last + 1))
        assert first + len(got) >= min(end, before + 1)  # everything committed before the round began

    async def check_log(self) -> None:
        for store in self.stores:
            assert await store.get_events(self.session_id) == [self.log[s] for s in range(1, self.last + 1)]
            assert (await store.get_session(self.session_id)).last_seq == self.last


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=rounds)
async def test_any_interleaving_keeps_the_log_dense_and_reads_consistent(
    stores: list[SessionStore], plan: list[Round]
) -> None:
    record = await runnable_session(stores[0])
    model = Model(stores, record.id, await stores[0].get_events(record.id))
    for step in plan:
        if isinstance(step, Claim):
            await model.claim(step)
        elif isinstance(step, Release):
            await model.release(step)
        else:
            await model.run_round(step)
    await model.check_log()

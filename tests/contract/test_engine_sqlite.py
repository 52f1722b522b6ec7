"""SQLite engine specifics: its threads and connections, other processes on the same file (locks and the
foreign-commit doorbell), and the WAL staying bounded."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from corral.db import Flow, Row, exec_, one
from corral.db.sqlite import SqliteDatabase
from corral.errors import StorageError
from corral.session import NewEvent, SessionStore

from .helpers import Heard, make_session

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    db = SqliteDatabase(f"sqlite:///{tmp_path / 'corral.db'}", readers=3)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


def open_files(path: Path) -> int:
    """File descriptors of this process on the database file (one per connection)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            pass
    return count


def engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("corral-sqlite")]


def count_sessions() -> Flow[int]:
    row: Row = yield one("SELECT count(*) AS n FROM sessions")
    return int(row["n"])


async def test_connections_are_bounded_and_all_closed(tmp_path: Path) -> None:
    before = set(engine_threads())
    db = SqliteDatabase(f"sqlite:///{tmp_path / 'c.db'}", readers=3)
    await db.open()
    store = SessionStore(db)
    record = await make_session(store)
    async with anyio.create_task_group() as tg:
        for _ in range(200):
            tg.start_soon(store.get_events, record.id, 1, 10)
            tg.start_soon(store.get_session, record.id)
    assert open_files(db.path) <= 3 + 2  # readers, writer, checkpointer
    await store.aclose()
    await db.close()
    assert open_files(db.path) == 0
    assert set(engine_threads()) <= before
    with pytest.raises(StorageError):
        await db.read(count_sessions)


def commit_elsewhere(path: Path, table: str) -> None:
    """A commit by another connection (as another process would make it)."""
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE {table} (x INTEGER)")
    conn.commit()
    conn.close()


async def test_a_commit_by_another_connection_rings_every_doorbell(tmp_path: Path) -> None:
    db = SqliteDatabase(f"sqlite:///{tmp_path / 'corral.db'}", readers=3)
    rung = Heard()
    stops = [db.listen(channel, rung) for channel in ("events", "wake")]
    await db.open()
    try:
        await rung.until(2)  # the writer rings once as it starts: it cannot know what happened before
        rung.payloads.clear()
        await db.write(count_sessions)  # our own commits announce themselves: no doorbell without payload
        # Another connection's commit, as a marker: the writer notices it at its next look, so once its ring is
        # heard, a ring for our own commit would have been heard too.
        await anyio.to_thread.run_sync(commit_elsewhere, db.path, "foreign_probe")
        assert await rung.until(2) == [None, None]
    finally:
        for stop in stops:
            stop()
        await db.close()


async def test_writes_wait_for_another_process_and_reads_go_on(sqlite_db: SqliteDatabase) -> None:
    store = SessionStore(sqlite_db)
    record = await make_session(store)
    locked, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        conn = sqlite3.connect(sqlite_db.path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(30)
        conn.execute("COMMIT")
        conn.close()

    written: list[int] = []

    async def write() -> None:
        written.append((await store.emit_event(record.id, NewEvent("agent.message", {}))).seq)

    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, hold_the_write_lock)
        try:
            await anyio.to_thread.run_sync(locked.wait, 30)
            tg.start_soon(write)
            await anyio.lowlevel.checkpoint()  # the write is handed to the writer, which waits for the lock
            assert (await store.get_session(record.id)).last_seq == 0  # reads are not blocked
            assert written == []  # waiting for the lock (a failure would end the task group with it)
        finally:
            release.set()
    assert written == [1]


def big_batch(n: int) -> list[NewEvent]:
    return [NewEvent("agent.message", {"content": [{"type": "text", "text": "x" * 8000}], "n": i}) for i in range(n)]


def wal_resets(wal: Path) -> int:
    """The WAL header's checkpoint sequence number: it goes up each time SQLite rewinds the WAL."""
    with wal.open("rb") as f:
        header = f.read(16)
    return int.from_bytes(header[12:16], "big") if len(header) == 16 else 0


WAL_AT_LEAST = 48 * 1024 * 1024
WAL_AT_MOST = 320 * 1024 * 1024  # past the writer's safety net (WRITER_AUTOCHECKPOINT pages) twice over


async def test_the_wal_is_rewound_under_a_steady_stream_of_writes(tmp_path: Path) -> None:
    """Without a pause between commits the WAL is still copied back and rewound, so it stays bounded; and
    checkpoints and rewinds are not mistaken for another process's commits.

    How soon the WAL is rewound depends on how often the checkpointer gets the CPU (on a busy machine the
    writer's own safety net may be what rewinds it), so the stream goes on until it has been rewound twice
    and is smaller than what was written, within a bound no busy machine reaches: a WAL that grew with what
    was written would reach it."""
    db = SqliteDatabase(f"sqlite:///{tmp_path / 'corral.db'}", readers=3)
    foreign = Heard(keep=lambda payload: payload is None)
    stop = db.listen("events", foreign)
    await db.open()
    store = SessionStore(db)
    try:
        await foreign.until(1)  # the writer's ring as it starts
        foreign.payloads.clear()
        record = await make_session(store)
        wal = Path(f"{db.path}-wal")
        first = wal_resets(wal)
        written = largest = 0
        while written < WAL_AT_MOST and (written < WAL_AT_LEAST or wal_resets(wal) < first + 2 or largest >= written):
            await store.emit_events(record.id, big_batch(100))
            written += 100 * 8000
            largest = max(largest, (await anyio.Path(wal).stat()).st_size)
        # A commit of another connection as a marker: once its ring is heard, any ring for our own
        # checkpoints and rewinds would have been heard too.
        await anyio.to_thread.run_sync(commit_elsewhere, db.path, "foreign_probe")
        assert await foreign.until(1) == [None]
        assert wal_resets(wal) >= first + 2  # rewound again and again: it does not grow with what was written
        # Without rewinds the file would hold more than everything written (frame headers, index pages).
        assert largest < written
        assert len(await store.get_events(record.id, 1, 10)) == 9
    finally:
        stop()
        await store.aclose()
        await db.close()


def fail_with_busy() -> Flow[None]:
    yield exec_("SELECT 1")
    raise sqlite3.OperationalError("not a database error of ours")


async def test_the_writer_survives_odd_flow_errors(sqlite_db: SqliteDatabase) -> None:
    with pytest.raises(sqlite3.OperationalError):
        await sqlite_db.write(fail_with_busy)
    assert await sqlite_db.write(count_sessions) == 0


def bring_down_the_writer() -> Flow[None]:
    yield exec_("SELECT 1")
    raise SystemExit("a flow that takes its thread down")


async def test_a_dead_writer_fails_writes_instead_of_hanging(tmp_path: Path) -> None:
    db = SqliteDatabase(f"sqlite:///{tmp_path / 'dead.db'}")
    await db.open()
    try:
        with anyio.fail_after(10), pytest.raises(StorageError):
            await db.write(bring_down_the_writer)
        with anyio.fail_after(10), pytest.raises(StorageError):
            await db.write(count_sessions)
        assert await db.read(count_sessions) == 0  # reads do not need the writer
    finally:
        await db.close()


async def test_a_new_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "corral.db"
    db = SqliteDatabase(f"sqlite:///{path}")
    await db.open()
    try:
        store = SessionStore(db)
        await store.emit_event((await make_session(store)).id, NewEvent("agent.message", {"content": []}))
    finally:
        await db.close()
    assert path.parent.stat().st_mode & 0o777 == 0o700
    for name in ("corral.db", "corral.db-wal", "corral.db-shm"):
        if (path.parent / name).exists():
            assert (path.parent / name).stat().st_mode & 0o077 == 0, name

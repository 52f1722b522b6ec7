"""The systems the ``log`` suite measures in-process: corral's ``SessionStore`` and the raw floors.

Invariants:

* corral is measured through its public surface only (``SessionStore.emit_event``, ``get_events``,
  ``get_session``), on a database opened with ``corral.db.engines.open_database`` as a server would.
* The floors write the very same rows (same columns, primary key and unique index as corral's ``events``
  table, same payload text) with the least work the engine allows: one ``INSERT`` per transaction.
* The SQLite floor runs its whole loop in a worker thread (no event loop in the timed region); nothing
  here blocks the event loop.
* Latencies are ``time.perf_counter`` seconds around one call.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import anyio
import anyio.to_thread

from corral.bench import context, pg
from corral.bench.events import new_event
from corral.bench.workload import Step, steps
from corral.db.engines import open_database
from corral.harness.context import build_messages
from corral.harness.log import SessionLog
from corral.session import NewEvent, NewSession, SessionStore, dumps

FLOOR_TABLE = (
    "CREATE TABLE IF NOT EXISTS events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,"
    " type TEXT NOT NULL, processed_at TEXT, created_at TEXT NOT NULL, payload TEXT NOT NULL,"
    " PRIMARY KEY (session_id, seq)){suffix}"
)
FLOOR_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS events_by_id ON events (id)"


def batches(items: Iterable[Step], size: int) -> Iterator[list[Step]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class CorralLog:
    """corral's session log on one engine (``url``), with its SQLite ``synchronous`` setting."""

    def __init__(self, name: str, url: str, synchronous: str = "NORMAL"):
        self.name, self.url, self.synchronous = name, url, synchronous
        self.db = open_database(url, sqlite_synchronous=synchronous)
        self.store = SessionStore(self.db)
        self._pending: list[NewEvent] = []
        self._emit_session = ""
        self.payload_bytes: dict[str, int] = {}

    async def open(self) -> None:
        await self.db.open()

    async def aclose(self) -> None:
        await self.store.aclose()
        await self.db.close()

    async def new_session(self) -> str:
        record, _ = await self.store.create_session(NewSession("wrkspc_bench", "agent_bench", 1, "env_bench", {}))
        return record.id

    async def start_append(self, seed: int, n: int) -> None:
        self._pending = [new_event(step) for step in steps(seed, n)]
        self._emit_session = await self.new_session()

    async def append(self, count: int) -> list[float]:
        batch, self._pending = self._pending[:count], self._pending[count:]
        emit, session_id, clock = self.store.emit_event, self._emit_session, time.perf_counter
        samples: list[float] = []
        for event in batch:
            start = clock()
            await emit(session_id, event)
            samples.append(clock() - start)
        return samples

    async def fill(self, seed: int, n: int, *, scale: float = 1.0, batch: int = 1000) -> str:
        """A session holding ``n`` workload events, appended with ``emit_events`` in batches; the JSON bytes of
        their payloads are kept in ``payload_bytes`` (session id → bytes)."""
        session_id = await self.new_session()
        payload = 0
        for chunk in batches(steps(seed, n, scale=scale), batch):
            events = [new_event(step) for step in chunk]
            payload += sum(len(dumps(event.data).encode()) for event in events)
            await self.store.emit_events(session_id, events)
        self.payload_bytes[session_id] = payload
        return session_id

    async def disk_bytes(self) -> int:
        """What the database holds on disk: SQLite's pages in use (the WAL's committed pages included, free pages
        not), PostgreSQL's ``pg_database_size`` (tables, indexes, TOAST; the server's WAL not)."""
        if self.url.startswith("sqlite:///"):
            return await anyio.to_thread.run_sync(_sqlite_bytes, self.url.removeprefix("sqlite:///"))
        conn = await pg.connect(self.url)
        try:
            return int(str(await conn.fetchval("SELECT pg_database_size(current_database())")))
        finally:
            await conn.close()

    async def slice(self, session_id: str, starts: list[int], count: int) -> list[float]:
        clock = time.perf_counter
        samples: list[float] = []
        for start in starts:
            began = clock()
            got = await self.store.get_events(session_id, start + 1, start + 1 + count)
            samples.append(clock() - began)
            if len(got) != count:
                raise AssertionError(f"slice at {start} returned {len(got)} events, not {count}")
        return samples

    async def recover(self, session_id: str) -> tuple[float, int, str]:
        """Wake-up cost, as ``corral.harness.wake`` pays it: read the session and all its events, fold them
        (``SessionLog``) and build the model request's messages (``build_messages``). The neutral rebuild
        behind the cross-system digest runs after the clock stops."""
        began = time.perf_counter()
        await self.store.get_session(session_id)
        events = await self.store.get_events(session_id)
        log = SessionLog(session_id, events)
        build_messages(log.events, log.state.compaction)
        seconds = time.perf_counter() - began
        messages = context.rebuild(context.corral_item(e.type, e.id, e.payload) for e in events)
        return seconds, len(events), context.digest(messages)

    async def concurrent(self, sessions: int, per_session: int, seed: int) -> float:
        """Events per second with ``sessions`` writers appending one event at a time, all at once."""
        ids = [await self.new_session() for _ in range(sessions)]
        events = [new_event(step) for step in steps(seed, per_session)]

        async def writer(session_id: str) -> None:
            for event in events:
                await self.store.emit_event(session_id, NewEvent(event.type, event.data))

        began = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for session_id in ids:
                tg.start_soon(writer, session_id)
        return sessions * per_session / (time.perf_counter() - began)


def _sqlite_bytes(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        pages, free, size = (conn.execute(f"PRAGMA {name}").fetchone()[0] for name in _PAGES)
        return int((pages - free) * size)
    finally:
        conn.close()


_PAGES = ("page_count", "freelist_count", "page_size")


def _floor_rows(seed: int, n: int) -> list[tuple[str, str, str]]:
    from corral.session import dumps

    rows: list[tuple[str, str, str]] = []
    for index, step in enumerate(steps(seed, n)):
        event = new_event(step)
        rows.append((event.id or f"floor_{seed}_{index}", event.type, dumps(event.data)))
    return rows


class SqliteFloor:
    """A bare ``sqlite3`` one-row INSERT transaction, WAL mode, at the given ``synchronous`` setting."""

    def __init__(self, name: str, path: Path, synchronous: str):
        self.name, self.path, self.synchronous = name, path, synchronous
        self._conn: sqlite3.Connection | None = None
        self._rows: list[tuple[str, str, str]] = []
        self._seq = 0

    async def open(self) -> None:
        await anyio.to_thread.run_sync(self._open)

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute(FLOOR_TABLE.format(suffix=" WITHOUT ROWID"))
        conn.execute(FLOOR_INDEX)
        self._conn = conn

    async def aclose(self) -> None:
        if self._conn is not None:
            await anyio.to_thread.run_sync(self._conn.close)

    async def start_append(self, seed: int, n: int) -> None:
        self._rows = _floor_rows(seed, n)

    async def append(self, count: int) -> list[float]:
        batch, self._rows = self._rows[:count], self._rows[count:]
        return await anyio.to_thread.run_sync(self._append, batch)

    def _append(self, rows: list[tuple[str, str, str]]) -> list[float]:
        assert self._conn is not None
        execute, clock = self._conn.execute, time.perf_counter
        samples: list[float] = []
        sql = "INSERT INTO events (session_id, seq, id, type, created_at, payload) VALUES (?, ?, ?, ?, ?, ?)"
        for event_id, kind, payload in rows:
            self._seq += 1
            began = clock()
            execute("BEGIN")
            execute(sql, ("floor", self._seq, event_id, kind, "2026-11-26T00:00:00.000000Z", payload))
            execute("COMMIT")
            samples.append(clock() - began)
        return samples


class PostgresFloor:
    """A bare asyncpg autocommit ``INSERT`` of the same row on the same server as corral."""

    def __init__(self, name: str, url: str):
        self.name, self.url = name, url
        self._conn: pg.Connection | None = None
        self._rows: list[tuple[str, str, str]] = []
        self._seq = 0

    async def open(self) -> None:
        self._conn = conn = await pg.connect(self.url)
        await conn.execute(FLOOR_TABLE.format(suffix=""))
        await conn.execute(FLOOR_INDEX)

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def start_append(self, seed: int, n: int) -> None:
        self._rows = _floor_rows(seed, n)

    async def append(self, count: int) -> list[float]:
        assert self._conn is not None
        batch, self._rows = self._rows[:count], self._rows[count:]
        execute, clock = self._conn.execute, time.perf_counter
        samples: list[float] = []
        sql = "INSERT INTO events (session_id, seq, id, type, created_at, payload) VALUES ($1, $2, $3, $4, $5, $6)"
        for event_id, kind, payload in batch:
            self._seq += 1
            began = clock()
            await execute(sql, "floor", self._seq, event_id, kind, "2026-11-26T00:00:00.000000Z", payload)
            samples.append(clock() - began)
        return samples

"""SQLite engine: one writer thread with group commit, a few reader threads, WAL mode.

Invariants:

* All writes of this process go through one thread and one connection. Pending write flows are taken
  in groups: ``BEGIN IMMEDIATE``, each flow inside its own SAVEPOINT (a failing flow rolls back only
  itself), one ``COMMIT``, then every caller is answered. A caller's future resolves only after the
  COMMIT returned, so an acknowledged write is in the WAL before the caller hears of it; with
  ``synchronous=NORMAL`` it survives ``kill -9`` of the process, with ``FULL`` also a power cut.
* Other processes on the same file are serialised by SQLite's lock (``busy_timeout``); a poller notices
  their commits through ``PRAGMA data_version`` and rings every listener's doorbell.
* No SQLite call ever runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from corral.db._flows import UniqueViolation, step
from corral.db.base import Database
from corral.db.migrate import CREATE_TABLE, migrations
from corral.db.query import FlowFn, Query, render
from corral.errors import StorageError
from corral.ids import now, rfc3339

_GROUP_MAX = 256
_POLL_SECONDS = 0.02


def sqlite_path(url: str) -> Path:
    """``sqlite:///abs/path.db`` or ``sqlite:relative.db`` → a Path."""
    for prefix in ("sqlite:///", "sqlite://", "sqlite:"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            return Path("/" + rest) if prefix == "sqlite:///" and not rest.startswith("/") else Path(rest)
    raise ValueError(f"not a sqlite url: {url!r}")


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA cache_size=-32000")
    return conn


def _execute(conn: sqlite3.Connection, query: Query, notes: list[tuple[str, str]]) -> Any:
    if query.kind == "notify":
        notes.append((query.args[0], query.args[1]))
        return None
    sql = render(query.sql, "sqlite")
    if query.kind == "many":
        conn.executemany(sql, query.rows)
        return None
    cursor = conn.execute(sql, query.args)
    if query.kind == "one":
        return cursor.fetchone()
    if query.kind == "all":
        return cursor.fetchall()
    return cursor.rowcount


def run_flow(conn: sqlite3.Connection, flow_fn: FlowFn, args: tuple[Any, ...], notes: list[tuple[str, str]]) -> Any:
    """Drive a flow to completion on ``conn`` (which is already inside a transaction)."""
    flow = flow_fn(*args)
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            query = step(flow, value, error)
        except StopIteration as stop:
            return stop.value
        try:
            value, error = _execute(conn, query, notes), None
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc) and "PRIMARY KEY" not in str(exc):
                raise StorageError(f"integrity error: {exc}") from exc
            value, error = None, UniqueViolation(str(exc))


@dataclass(eq=False)
class _Job:
    flow_fn: FlowFn
    args: tuple[Any, ...]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    notes: list[tuple[str, str]] = field(default_factory=list)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; the write still happened (or not) as reported below
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class _Writer(threading.Thread):
    def __init__(
        self,
        path: Path,
        synchronous: str,
        on_commit: Callable[[list[tuple[str, str]]], None],
        on_foreign: Callable[[], None],
    ):
        super().__init__(name="corral-sqlite-writer", daemon=True)
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._path = path
        self._synchronous = synchronous
        self._on_commit = on_commit
        self._on_foreign = on_foreign
        #: the value of ``corral_clock.n`` after our latest commit; other processes' commits bump it too.
        self.clock = 0
        self.clock_lock = threading.Lock()

    def run(self) -> None:
        conn = _connect(self._path, self._synchronous)
        try:
            while (first := self.jobs.get()) is not None:
                group = [first]
                stop = False
                while len(group) < _GROUP_MAX:
                    try:
                        job = self.jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    group.append(job)
                self._run_group(conn, group)
                if stop:
                    break
        finally:
            conn.close()

    def _run_group(self, conn: sqlite3.Connection, group: list[_Job]) -> None:
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in group:
                conn.execute("SAVEPOINT job")
                try:
                    value = run_flow(conn, job.flow_fn, job.args, job.notes)
                    conn.execute("RELEASE job")
                    outcomes.append((job, value, None))
                except Exception as exc:  # the flow's own failure: undo only this job
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    job.notes.clear()
                    outcomes.append((job, None, exc))
            clock = int(conn.execute("UPDATE corral_clock SET n = n + 1 RETURNING n").fetchone()[0])
            conn.execute("COMMIT")
            with self.clock_lock:
                foreign = clock != self.clock + 1
                self.clock = clock
            if foreign:
                self._on_foreign()
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = StorageError(f"sqlite write failed: {exc}")
            outcomes = [(job, None, failure) for job in group]
        notes = [note for job, _, error in outcomes if error is None for note in job.notes]
        for job, value, error in outcomes:
            job.loop.call_soon_threadsafe(_settle, job.future, value, error)
        if notes:
            self._on_commit(notes)


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, url: str, *, synchronous: str = "NORMAL", readers: int = 8):
        super().__init__()
        self.url = url
        self.path = sqlite_path(url)
        if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"bad sqlite synchronous setting {synchronous!r}")
        self.synchronous = synchronous
        self._readers = anyio.CapacityLimiter(readers)
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._writer: _Writer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: asyncio.Task[None] | None = None
        self._seen_version = -1

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        clock = await anyio.to_thread.run_sync(self._init_file)
        self._writer = _Writer(self.path, self.synchronous, self._committed, self._foreign)
        self._writer.clock = clock
        self._writer.start()
        self._poller = self._loop.create_task(self._poll_foreign_commits())

    def _init_file(self) -> int:
        """Apply pending migrations; return the current ``corral_clock`` value."""
        conn = _connect(self.path, self.synchronous)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(CREATE_TABLE)
            applied = {row[0] for row in conn.execute("SELECT version FROM corral_migrations")}
            for migration in migrations("sqlite"):
                if migration.version in applied:
                    continue
                for statement in migration.statements():
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO corral_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, rfc3339(now())),
                )
            conn.execute("COMMIT")
            return int(conn.execute("SELECT n FROM corral_clock").fetchone()[0])
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except asyncio.CancelledError:
                pass
            self._poller = None
        if self._writer is not None:
            self._writer.jobs.put(None)
            await anyio.to_thread.run_sync(self._writer.join)
            self._writer = None
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    def _foreign(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._deliver_everywhere)

    def _committed(self, notes: list[tuple[str, str]]) -> None:
        loop = self._loop
        if loop is None:
            return
        for channel, payload in notes:
            loop.call_soon_threadsafe(self._deliver, channel, payload)

    async def write(self, flow: FlowFn, *args: Any) -> Any:
        if self._writer is None:
            raise StorageError("database is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._writer.jobs.put(_Job(flow, args, loop, future))
        return await future

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self.synchronous)
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    def _read_sync(self, flow: FlowFn, args: tuple[Any, ...]) -> Any:
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            return run_flow(conn, flow, args, [])
        finally:
            conn.execute("COMMIT")

    async def read(self, flow: FlowFn, *args: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(self._read_sync, flow, args, limiter=self._readers)
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite read failed: {exc}") from exc

    def _clock(self) -> tuple[int, int]:
        conn = self._reader()
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if version == self._seen_version:
            return version, -1
        return version, int(conn.execute("SELECT n FROM corral_clock").fetchone()[0])

    async def _poll_foreign_commits(self) -> None:
        """Ring every doorbell when another process committed (our own commits announce themselves).

        Every commit, ours or another process's, bumps ``corral_clock.n`` by one; a value we did not
        write ourselves means a foreign commit.
        """
        while True:
            await anyio.sleep(_POLL_SECONDS)
            if not self._listeners or self._writer is None:
                continue
            version, clock = await anyio.to_thread.run_sync(self._clock, limiter=self._readers)
            self._seen_version = version
            if clock < 0:
                continue
            writer = self._writer
            with writer.clock_lock:
                foreign = clock > writer.clock
                writer.clock = max(writer.clock, clock)
            if foreign:
                self._deliver_everywhere()

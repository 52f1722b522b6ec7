"""SQLite engine: one writer thread with group commit, a pool of reader threads, WAL mode.

Invariants:

* All writes of this process go through one thread and one connection (``writer.Writer``). A
  caller's future resolves only after the COMMIT returned, so an acknowledged write is in the WAL before
  the caller hears of it; with ``synchronous=NORMAL`` it survives ``kill -9`` of the process (the WAL is in
  the OS page cache), with ``FULL`` also a power cut.
* Other processes on the same file are serialised by SQLite's write lock (waited for, never failed); the writer
  notices their commits through ``PRAGMA data_version`` and rings every listener's doorbell.
* No SQLite call ever runs on the event loop thread. The engine belongs to the event loop that opened it.
* ``close()`` answers every write and read it accepted, then closes every connection it opened.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from corral.db.base import Database
from corral.db.migrate import CREATE_TABLE, migrations
from corral.db.query import BoundFlow
from corral.db.sqlite import connection as sq
from corral.db.sqlite.jobs import Hop, Job, Note, Outcome
from corral.db.sqlite.readers import Readers
from corral.db.sqlite.writer import Writer
from corral.errors import StorageError
from corral.ids import now, rfc3339

POLL_SECONDS = 0.02

T = TypeVar("T")


def sqlite_path(url: str) -> Path:
    """``sqlite:///abs/path.db`` or ``sqlite:relative.db`` → a Path."""
    for prefix in ("sqlite:///", "sqlite://", "sqlite:"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            return Path("/" + rest) if prefix == "sqlite:///" and not rest.startswith("/") else Path(rest)
    raise ValueError(f"not a sqlite url: {url!r}")


def _finish(deliver: Callable[[str, str], None], outcomes: list[Outcome], notes: list[Note]) -> None:
    """On the loop: answer the callers, then ring the doorbells of what they committed."""
    for future, value, error in outcomes:
        if future.done():  # the caller was cancelled; the write happened (or not) all the same
            continue
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)
    for channel, payload in notes:
        deliver(channel, payload)


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, url: str, *, synchronous: str = "NORMAL", readers: int = 4, poll_seconds: float = POLL_SECONDS):
        super().__init__()
        self.url = url
        self.path = sqlite_path(url)
        if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"bad sqlite synchronous setting {synchronous!r}")
        self.synchronous = synchronous
        self._reader_count = max(1, readers)
        self._poll = poll_seconds
        self._writer: Writer | None = None
        self._readers: Readers | None = None

    async def open(self) -> None:
        if self._writer is not None:
            return
        loop = asyncio.get_running_loop()
        await anyio.to_thread.run_sync(self._init_file)
        hop = Hop(loop, lambda outcomes, notes: _finish(self._deliver, outcomes, notes))
        writer = Writer(self.path, self.synchronous, hop, lambda: self._foreign(loop), self._poll)
        readers = Readers(self.path, self.synchronous, hop, self._reader_count)
        writer.start()
        readers.start()
        self._writer, self._readers = writer, readers

    def _init_file(self) -> None:
        """Apply pending migrations (several processes may open a new file at once: the lock sorts them)."""
        # Owner-only: the log holds every conversation and the key hashes (SQLite gives the -wal and -shm
        # files the database file's permissions).
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path.touch(mode=0o600, exist_ok=True)
        conn = sq.connect(self.path, self.synchronous, "plain")
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(CREATE_TABLE)
            applied = {row[0] for row in conn.execute("SELECT version FROM corral_migrations")}
            for migration in migrations("sqlite"):
                if migration.version in applied:
                    continue
                self.migrated.append(f"{migration.version:04d}_{migration.name}")
                for statement in migration.statements():
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO corral_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, rfc3339(now())),
                )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite database {self.path}: {exc}") from exc
        finally:
            sq.rollback_quietly(conn)
            conn.close()

    async def close(self) -> None:
        writer, readers = self._writer, self._readers
        self._writer = self._readers = None
        if writer is not None:
            writer.jobs.put(None)
            await anyio.to_thread.run_sync(writer.join)
        if readers is not None:
            await anyio.to_thread.run_sync(readers.stop)

    def _foreign(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.call_soon_threadsafe(self._deliver_everywhere)
        except RuntimeError:
            pass  # the loop is gone

    async def _write(self, flow: BoundFlow[T]) -> T:
        if self._writer is None:
            raise StorageError("database is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._writer.inbox.submit(Job(flow, future))
        return await future

    async def _read(self, flow: BoundFlow[T]) -> T:
        if self._readers is None:
            raise StorageError("database is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._readers.inbox.submit(Job(flow, future))
        return await future

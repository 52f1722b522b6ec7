"""The SQLite engine's threads: one writer (group commit), a few readers, one checkpointer.

Invariants:

* The writer answers a group's callers only after its COMMIT returned (or the group was rolled back), with
  one hop back to the event loop per group. A flow that raises, or is void (caught a ``UniqueViolation``),
  is undone alone: inside a SAVEPOINT when it shares the transaction, by ROLLBACK when it is alone.
* The writer notices other processes' commits with ``PRAGMA data_version`` on its own connection (which
  only this process's writer uses, so it only moves for foreign commits): after a group when the last look
  is older than ``poll`` seconds, and every ``poll`` seconds while idle.
* Every job handed to a thread is answered exactly once: with its result, its error, or ``StorageError``
  when the engine closes or a thread dies.
* Checkpoints stay off the commit path: the checkpointer thread copies the WAL back into the database,
  and the WAL stays bounded (see ``Checkpointer``).
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corral.db import _sqlite_conn as sq
from corral.db.query import FlowFn
from corral.errors import StorageError

GROUP_MAX = 256
CHECKPOINT_EVERY = 200  # committed groups between two nudges of the checkpointer
CHECKPOINT_IDLE_SECONDS = 1.0
WAL_RESET_FRAMES = 2000  # ≈ 8 MB of 4 KB pages

Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]
Finish = Callable[[list[Outcome], list[sq.Note]], None]


@dataclass(eq=False, slots=True)
class Job:
    flow_fn: FlowFn
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    notes: list[sq.Note] = field(default_factory=lambda: list[sq.Note]())


class _Hop:
    """Answers callers on the event loop; a closed loop (process exit) means nobody is waiting any more."""

    def __init__(self, loop: asyncio.AbstractEventLoop, finish: Finish):
        self._loop = loop
        self._finish = finish

    def answer(self, outcomes: list[Outcome], notes: list[sq.Note]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._finish, outcomes, notes)
        except RuntimeError:
            pass

    def fail(self, jobs: list[Job], error: BaseException) -> None:
        if jobs:
            self.answer([(job.future, None, error) for job in jobs], [])


def _drain(jobs: queue.SimpleQueue[Job | None]) -> list[Job]:
    left: list[Job] = []
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return left
        if job is not None:
            left.append(job)


class Writer(threading.Thread):
    def __init__(self, path: Path, synchronous: str, hop: _Hop, on_foreign: Callable[[], None], poll: float):
        super().__init__(name="corral-sqlite-writer", daemon=True)
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._path, self._synchronous, self._hop = path, synchronous, hop
        self._on_foreign = on_foreign
        self._poll = poll
        self._version = -1
        self._looked = 0.0
        self._group: list[Job] = []
        self.checkpointer = Checkpointer(path, synchronous)

    def run(self) -> None:
        try:
            conn = sq.connect(self._path, self._synchronous, "writer")
        except sqlite3.Error as exc:
            self._hop.fail(_drain(self.jobs), StorageError(f"cannot open the sqlite writer: {exc}"))
            return
        self.checkpointer.start()
        try:
            self._look(conn)
            self._serve(conn)
        finally:
            self._hop.fail(self._group, StorageError("the sqlite writer stopped"))
            self._hop.fail(_drain(self.jobs), StorageError("database is closed"))
            sq.rollback_quietly(conn)
            conn.close()
            self.checkpointer.stop()

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            try:
                first = self.jobs.get(timeout=self._poll)
            except queue.Empty:
                self._look(conn)
                continue
            if first is None:
                return
            if self.checkpointer.wants_help:
                self.checkpointer.wants_help = False
                checkpoint(conn)
            self._group = group = [first]
            stop = self._collect(group)
            outcomes, kept = self._run_group(conn, group)
            if kept:
                self.checkpointer.committed()
            if time.monotonic() - self._looked >= self._poll:
                self._look(conn)
            self._group = []
            # Answering is the last thing before blocking again: the loop thread, woken by it, then finds
            # the GIL free instead of waiting for this thread to let go of it.
            self._hop.answer(outcomes, [note for job in group for note in job.notes])
            if stop:
                return

    def _collect(self, group: list[Job]) -> bool:
        while len(group) < GROUP_MAX:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return False
            if job is None:
                return True
            group.append(job)
        return False

    def _look(self, conn: sqlite3.Connection) -> None:
        """Ring every doorbell if another process committed since the last look."""
        self._looked = time.monotonic()
        try:
            version = sq.data_version(conn)
        except sqlite3.Error:
            return  # busy or broken: the next look or the next group tells
        if version != self._version:
            first = self._version < 0
            self._version = version
            if not first:
                self._on_foreign()

    def _run_group(self, conn: sqlite3.Connection, group: list[Job]) -> tuple[list[Outcome], bool]:
        """One transaction for the whole group. Returns every caller's outcome and whether it committed."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            alone = len(group) == 1
            outcomes: list[Outcome] = []
            kept = 0
            for job in group:
                outcome, keep = _run_job(conn, job, savepoint=not alone)
                outcomes.append(outcome)
                kept += keep
            if kept:
                conn.execute("COMMIT")  # raises if SQLite already rolled back (I/O error): the group fails
            else:
                sq.rollback_quietly(conn)
        except sqlite3.Error as exc:
            sq.rollback_quietly(conn)
            error = StorageError(f"sqlite write failed: {exc}")
            for job in group:
                job.notes.clear()
            return [(job.future, None, error) for job in group], False
        return outcomes, kept > 0


def _run_job(conn: sqlite3.Connection, job: Job, *, savepoint: bool) -> tuple[Outcome, bool]:
    """Run one flow; undo it alone if it fails or is void. Returns its outcome and whether it is kept."""
    if savepoint:
        conn.execute("SAVEPOINT job")
    try:
        value, void = sq.run_flow(conn, job.flow_fn, job.args, job.notes)
        outcome: Outcome = (job.future, value, None)
    except Exception as exc:
        value, void, outcome = None, True, (job.future, None, exc)
    if void:
        job.notes.clear()
        if savepoint:
            conn.execute("ROLLBACK TO job")
    if savepoint:
        conn.execute("RELEASE job")
    return outcome, not void


class Readers:
    """A fixed pool of reader threads, each with its own ``query_only`` connection, fed from one queue."""

    def __init__(self, path: Path, synchronous: str, hop: _Hop, count: int):
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._path, self._synchronous, self._hop = path, synchronous, hop
        self._threads = [
            threading.Thread(target=self._serve, name=f"corral-sqlite-reader-{i}", daemon=True) for i in range(count)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Blocking: let queued reads finish, then close every connection (call from a worker thread)."""
        for _ in self._threads:
            self.jobs.put(None)
        for thread in self._threads:
            thread.join()
        self._hop.fail(_drain(self.jobs), StorageError("database is closed"))

    def _serve(self) -> None:
        try:
            conn = sq.connect(self._path, self._synchronous, "reader")
        except sqlite3.Error as exc:
            error = StorageError(f"cannot open a sqlite reader: {exc}")
            while (job := self.jobs.get()) is not None:
                self._hop.fail([job], error)
            return
        try:
            while (job := self.jobs.get()) is not None:
                self._hop.answer([_read(conn, job)], [])
        finally:
            sq.rollback_quietly(conn)
            conn.close()


def _read(conn: sqlite3.Connection, job: Job) -> Outcome:
    try:
        conn.execute("BEGIN")
        try:
            value, _ = sq.run_flow(conn, job.flow_fn, job.args, [])
        finally:
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        sq.rollback_quietly(conn)
        return job.future, None, StorageError(f"sqlite read failed: {exc}")
    except Exception as exc:
        return job.future, None, exc
    return job.future, value, None


class Checkpointer(threading.Thread):
    """Copies committed WAL frames back into the database file off the commit path.

    SQLite rewinds the WAL only when a write transaction starts with every frame already copied. Under a
    steady stream of commits a background pass never quite catches up (frames keep arriving while it
    fsyncs), so once the WAL holds ``WAL_RESET_FRAMES`` the writer finishes the job itself between two
    groups: a short pass over the last few frames, after which its next transaction rewinds the WAL.
    """

    def __init__(self, path: Path, synchronous: str):
        super().__init__(name="corral-sqlite-checkpointer", daemon=True)
        self._path, self._synchronous = path, synchronous
        self._wake = threading.Event()
        self._stopping = False
        self._commits = 0
        #: set by this thread, cleared by the writer once it has run the finishing pass
        self.wants_help = False

    def committed(self) -> None:
        """Called by the writer after each commit (a plain counter: an approximate hint is enough)."""
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self.is_alive():
            self.join()

    def run(self) -> None:
        try:
            conn = sq.connect(self._path, self._synchronous, "plain")
        except sqlite3.Error:
            return  # the writer's safety-net autocheckpoint still bounds the WAL
        done = 0
        try:
            while not self._stopping:
                self._wake.wait(CHECKPOINT_IDLE_SECONDS)
                self._wake.clear()
                if self._commits != done and not self._stopping:
                    done = self._commits
                    frames = checkpoint(conn)
                    self.wants_help = frames >= WAL_RESET_FRAMES
        finally:
            conn.close()


def checkpoint(conn: sqlite3.Connection) -> int:
    """A PASSIVE checkpoint (never waits for anyone); returns the WAL's length in frames (0 if unknown)."""
    try:
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
    except sqlite3.Error:
        return 0  # another process is checkpointing: it does the work
    return max(0, int(row[1]))

"""The SQLite engine's writer thread: every write of this process, in groups, one transaction per group.

Invariants:

* The writer answers a group's callers only after its COMMIT returned (or the group was rolled back), with
  one hop back to the event loop per group. A flow that raises, or is void (caught a ``UniqueViolation``),
  is undone alone: inside a SAVEPOINT when it shares the transaction, by ROLLBACK when it is alone.
* The writer notices other processes' commits with ``PRAGMA data_version`` on its own connection (which
  only this process's writer uses, so it only moves for foreign commits): after a group when the last look
  is older than ``poll`` seconds, and every ``poll`` seconds while idle.
* Every job handed to the writer is answered exactly once: with its result, its error, or ``StorageError``
  when the engine closes or the thread dies.
* The writer never checkpoints on its own, except to finish what the checkpointer started when the WAL
  has grown (``checkpointer.Checkpointer``).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from corral.db.sqlite import connection as sq
from corral.db.sqlite.checkpointer import Checkpointer, checkpoint
from corral.db.sqlite.jobs import Hop, Inbox, Job, Outcome
from corral.errors import StorageError

GROUP_MAX = 256

log = logging.getLogger(__name__)


class Writer(threading.Thread):
    def __init__(self, path: Path, synchronous: str, hop: Hop, on_foreign: Callable[[], None], poll: float):
        super().__init__(name="corral-sqlite-writer", daemon=True)
        self.inbox = Inbox(hop)
        self.jobs = self.inbox.queue
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
            self.inbox.close(StorageError(f"cannot open the sqlite writer: {exc}"))
            return
        self.checkpointer.start()
        stopped = StorageError("the sqlite writer stopped (see the log)")
        try:
            self._look(conn)
            self._serve(conn)
            stopped = StorageError("database is closed")
        except BaseException:
            log.exception("the sqlite writer stopped")
        finally:
            self._hop.fail(self._group, stopped)
            self.inbox.close(stopped)
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
            if self.checkpointer.wants_help:  # until a pass of ours copies everything: then the WAL rewinds
                self.checkpointer.wants_help = not checkpoint(conn)[1]
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
        """Ring every doorbell if another process committed since the last look.

        The first look rings too: the thread starts after ``open`` returned, so someone may already have
        read the database and be waiting for what another process commits before this first look.
        """
        self._looked = time.monotonic()
        try:
            version = sq.data_version(conn)
        except sqlite3.Error:
            return  # busy or broken: the next look or the next group tells
        if version != self._version:
            self._version = version
            self._on_foreign()

    def _run_group(self, conn: sqlite3.Connection, group: list[Job]) -> tuple[list[Outcome], bool]:
        """One transaction for the whole group. Returns every caller's outcome and whether it committed."""
        try:
            sq.begin_immediate(conn)
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
            error = sq.failure("sqlite write failed", exc)
            for job in group:
                job.notes.clear()
            return [(job.future, None, error) for job in group], False
        return outcomes, kept > 0


def _run_job(conn: sqlite3.Connection, job: Job, *, savepoint: bool) -> tuple[Outcome, bool]:
    """Run one flow; undo it alone if it fails or is void. Returns its outcome and whether it is kept."""
    if savepoint:
        conn.execute("SAVEPOINT job")
    try:
        value, void = sq.run_flow(conn, job.flow, job.notes)
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

"""The SQLite engine's helper threads: the reader pool and the checkpointer (the writer is in ``_sqlite_threads``).

Invariants:

* Every read handed to the pool is answered exactly once (its value, its error, or ``StorageError`` when the
  engine closes); each reader thread owns one ``query_only`` connection and closes it when it stops.
* Checkpoints stay off the commit path, and the WAL stays bounded (see ``Checkpointer``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from corral.db import _sqlite_conn as sq
from corral.db._sqlite_jobs import Hop, Inbox, Job, Outcome
from corral.errors import StorageError

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 200  # commits between two passes of the checkpointer
CHECKPOINT_SECONDS = 1.0  # at least one pass this often while anything is committed
CHECKPOINT_LOOK_SECONDS = 0.05  # how often it looks at the WAL file's size
CHECKPOINT_GROWTH_BYTES = 4 * 1024 * 1024
WAL_RESET_FRAMES = 2000  # ≈ 8 MB of 4 KB pages


class Readers:
    """A fixed pool of reader threads, each with its own ``query_only`` connection, fed from one inbox."""

    def __init__(self, path: Path, synchronous: str, hop: Hop, count: int):
        self.inbox = Inbox(hop)
        self.jobs = self.inbox.queue
        self._path, self._synchronous, self._hop = path, synchronous, hop
        self._threads = [
            threading.Thread(target=self._serve, name=f"corral-sqlite-reader-{i}", daemon=True) for i in range(count)
        ]
        self._alive = count
        self._lock = threading.Lock()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Blocking: let queued reads finish, then close every connection (call from a worker thread)."""
        for _ in self._threads:
            self.jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _serve(self) -> None:
        stopped = StorageError("the sqlite readers stopped (see the log)")
        try:
            conn = sq.connect(self._path, self._synchronous, "reader")
        except sqlite3.Error as exc:
            stopped = StorageError(f"cannot open a sqlite reader: {exc}")
        else:
            try:
                while (job := self.jobs.get()) is not None:
                    self._hop.answer([_read(conn, job)], [])
                stopped = StorageError("database is closed")
            except BaseException:
                log.exception("a sqlite reader stopped")
            finally:
                sq.rollback_quietly(conn)
                conn.close()
        finally:
            with self._lock:
                self._alive -= 1
                last = self._alive == 0
            if last:  # the reads still queued would wait for nobody
                self.inbox.close(stopped)


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

    A pass runs after every ``CHECKPOINT_EVERY`` commits, when the WAL file has grown by
    ``CHECKPOINT_GROWTH_BYTES`` since the last pass (big transactions), and once a second while anything
    was committed. Each pass fsyncs, and fsyncs slow concurrent commits down, so passes are not more frequent.

    SQLite rewinds the WAL only when a write transaction starts with every frame already copied. Under a
    steady stream of commits a background pass never quite catches up (frames keep arriving while it
    fsyncs), so once a pass finds ``WAL_RESET_FRAMES`` or more the writer finishes the job itself between
    two groups: a short pass over the last few frames, after which its next transaction rewinds the WAL.
    """

    def __init__(self, path: Path, synchronous: str):
        super().__init__(name="corral-sqlite-checkpointer", daemon=True)
        self._path, self._synchronous = path, synchronous
        self._wal = Path(f"{path}-wal")
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
        try:
            self._serve(conn)
        finally:
            conn.close()

    def _serve(self, conn: sqlite3.Connection) -> None:
        done, size, last = 0, self._wal_size(), time.monotonic()
        while not self._stopping:
            nudged = self._wake.wait(CHECKPOINT_LOOK_SECONDS)
            self._wake.clear()
            if self._stopping or self._commits == done or self.wants_help:
                continue  # (while the writer owes its finishing pass, a pass here would only collide with it)
            grown = self._wal_size() - size >= CHECKPOINT_GROWTH_BYTES
            if nudged or grown or time.monotonic() - last >= CHECKPOINT_SECONDS:
                done, last = self._commits, time.monotonic()
                self.wants_help = checkpoint(conn)[0] >= WAL_RESET_FRAMES
                size = self._wal_size()

    def _wal_size(self) -> int:
        try:
            return self._wal.stat().st_size
        except OSError:
            return 0


def checkpoint(conn: sqlite3.Connection) -> tuple[int, bool]:
    """A PASSIVE checkpoint (never waits for anyone): the WAL's length in frames, and whether every frame
    was copied (False too when another connection was checkpointing)."""
    try:
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
    except sqlite3.Error:
        return 0, False
    return max(0, int(frames)), not busy and int(copied) >= int(frames)

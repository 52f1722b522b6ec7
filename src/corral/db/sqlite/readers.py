"""The SQLite engine's reader threads: a fixed pool, each thread with its own ``query_only`` connection.

Invariants:

* Every read handed to the pool is answered exactly once (its value, its error, or ``StorageError`` when the
  engine closes); each reader thread owns one connection and closes it when it stops.
* A read runs in one transaction (``BEGIN`` … ``COMMIT``), so it sees one snapshot, and never writes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from corral.db.sqlite import connection as sq
from corral.db.sqlite.jobs import Hop, Inbox, Job, Outcome
from corral.errors import StorageError

log = logging.getLogger(__name__)


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
            value, _ = sq.run_flow(conn, job.flow, [])
        finally:
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        sq.rollback_quietly(conn)
        return job.future, None, StorageError(f"sqlite read failed: {exc}")
    except Exception as exc:
        return job.future, None, exc
    return job.future, value, None

"""The SQLite engine's checkpointer thread: committed WAL frames go back into the database file off the
commit path, and the WAL stays bounded.

Invariants:

* No checkpoint ever waits for anyone (``PASSIVE``), and the writer never checkpoints on its own except to
  finish what this thread started (``Checkpointer.wants_help``); the writer's ``wal_autocheckpoint`` is a
  safety net should this thread fall behind.
* Under a steady stream of commits the WAL is still rewound (see ``Checkpointer``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from corral.db.sqlite import connection as sq

CHECKPOINT_EVERY = 200  # commits between two passes of the checkpointer
CHECKPOINT_SECONDS = 1.0  # at least one pass this often while anything is committed
CHECKPOINT_LOOK_SECONDS = 0.05  # how often it looks at the WAL file's size
CHECKPOINT_GROWTH_BYTES = 4 * 1024 * 1024
WAL_RESET_FRAMES = 2000  # ≈ 8 MB of 4 KB pages


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

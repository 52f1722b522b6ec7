"""SQLite connections and the synchronous flow driver. Everything here runs in the engine's own threads.

Invariants:

* Every connection is in WAL mode with the same ``synchronous`` setting, waits for other processes' locks
  instead of failing, and is used by the one thread that opened it. Readers and the checkpointer wait with
  SQLite's ``busy_timeout``; the writer waits for the write lock with ``begin_immediate``, whose retries
  are short (SQLite's own busy handler sleeps up to 100 ms between tries, which starves a writer when
  several processes write at once).
* Reader connections are ``query_only``: a read flow can never write.
* The writer connection does not checkpoint on commit (``wal_autocheckpoint`` is raised to a safety net);
  the engine's checkpointer keeps the WAL short (``checkpointer.Checkpointer``).
* No statement is left half-read: a pending statement would hold a read snapshot (and block WAL rewinds).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Literal

from corral.db._flows import FlowState
from corral.db.query import BoundFlow, Query, Row, render
from corral.db.sqlite.jobs import Note
from corral.errors import StorageError, StorageFull

BUSY_SECONDS = 30.0
WRITER_BUSY_MS = 5
#: WAL pages after which the writer would checkpoint itself (only if the checkpoint thread falls behind).
WRITER_AUTOCHECKPOINT = 20000

Role = Literal["writer", "reader", "plain"]

_UNIQUE = frozenset({sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY})


def connect(path: Path, synchronous: str, role: Role) -> sqlite3.Connection:
    """Open ``path`` for ``role`` (in the calling thread, which is the only one that may use it)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_SECONDS, cached_statements=512)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA cache_size=-32000")
        conn.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
        if role == "writer":
            conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT}")
            # begin_immediate does the long waiting; a few ms of SQLite's own wait still serve the short
            # internal locks (rewinding the WAL needs every reader's lock for a moment)
            conn.execute(f"PRAGMA busy_timeout={WRITER_BUSY_MS}")
        elif role == "reader":
            conn.execute("PRAGMA query_only=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def begin_immediate(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, waiting up to ``BUSY_SECONDS`` for another process's write lock, in short steps."""
    deadline = time.monotonic() + BUSY_SECONDS
    delay = 0.0001
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(delay)  # noqa: TID251 - the writer thread waits here, never the event loop
        delay = min(delay * 2, 0.002)


def data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever *another* connection (another process, for the writer) committed."""
    return int(conn.execute("PRAGMA data_version").fetchall()[0][0])


def execute(conn: sqlite3.Connection, query: Query, notes: list[Note]) -> Row | list[Row] | int | str | None:
    kind = query.kind
    if kind == "notify":
        channel, payload = query.args
        notes.append((str(channel), str(payload)))
        return None
    if kind == "dialect":
        return "sqlite"
    sql = render(query.sql, "sqlite")
    if kind == "many":
        conn.executemany(sql, query.rows)
        return None
    cursor = conn.execute(sql, query.args)
    if kind == "one":
        row: Row | None = cursor.fetchone()
        cursor.close()  # finishes an UPDATE … RETURNING before the transaction moves on
        return row
    if kind == "all":
        rows: list[Row] = cursor.fetchall()
        return rows
    return cursor.rowcount


def run_flow(conn: sqlite3.Connection, flow: BoundFlow[Any], notes: list[Note]) -> tuple[Any, bool]:
    """Drive a flow on ``conn`` (already inside a transaction). Returns its value and whether it is void.

    A void flow (it caught a ``UniqueViolation``) must be rolled back by the caller, value or not.
    """
    state = FlowState(flow())
    while (query := state.next_query()) is not None:
        try:
            state.answer(execute(conn, query, notes))
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorcode not in _UNIQUE:
                raise StorageError(f"integrity error: {exc}") from exc
            state.unique_violation(str(exc))
        except sqlite3.Error as exc:
            raise failure("sqlite statement failed", exc) from exc
    return state.value, state.void


def failure(what: str, exc: sqlite3.Error) -> StorageError:
    """The ``StorageError`` for ``exc``: ``StorageFull`` when the disk is full (nothing was written; a retry after
    space is freed succeeds), so the API answers 503 with ``retry-after`` rather than 500."""
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL:
        return StorageFull(f"{what}: the database's disk is full")
    return StorageError(f"{what}: {exc}")


def rollback_quietly(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is broken; the next BEGIN reports it

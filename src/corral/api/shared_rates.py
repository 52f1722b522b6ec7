"""Request rates counted in the database, so every API process of a PostgreSQL deployment shares one limit per
workspace (with in-process buckets, N processes would let a workspace through at N times its rate).

The counter is a fixed window per workspace, kind (reads, writes) and minute: each request is one UPSERT
(``hits = hits + 1 … RETURNING hits``, in a transaction whose commit does not wait for the WAL flush: PostgreSQL
only, where the class is used); a request whose hit passes the
limit is refused with a 429 whose ``retry-after`` is the rest of the minute. This process then refuses that
bucket's requests by itself until the window ends, without asking the database again: a workspace hammering at
a closed window costs the database nothing. Once a minute, each process deletes windows older than the last two.

Invariants: across processes, a workspace gets at most ``limit`` requests of a kind through in one window (the
database serialises the UPSERTs on the row); in any 60 s spanning a window boundary it may get up to twice the
limit (the price of one row per minute instead of a sliding log). Windows are cut by each process's wall clock:
hosts whose clocks differ by seconds share a window for all but those seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from corral.db import Database, Flow, Row, exec_, one

WINDOW_SECONDS = 60
_KEEP_WINDOWS = 2  # the current window and the one before (a request may straddle their boundary)


def hit(bucket: str, window: int, stale_before: int | None) -> Flow[int]:
    """Count one request of ``bucket`` in ``window``; how many it now holds. ``stale_before``: also forget the
    windows older than this (once a minute per process)."""
    # a count lost in a crash costs nothing: the commit need not wait for the WAL to reach the disk
    yield exec_("SET LOCAL synchronous_commit TO OFF")
    if stale_before is not None:
        yield exec_("DELETE FROM rate_windows WHERE window_start < $1", stale_before)
    row: Row | None = yield one(
        "INSERT INTO rate_windows (bucket, window_start, hits) VALUES ($1, $2, 1)"
        " ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_windows.hits + 1 RETURNING hits",
        bucket,
        window,
    )
    return 0 if row is None else int(row["hits"])


class SharedWindows:
    """Per-minute request counters in ``db``, shared by every process on it."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self._closed: dict[str, int] = {}  # bucket → the window this process knows is full
        self._swept = 0  # the last window this process swept old rows in

    async def take(self, bucket: str, per_minute: int) -> float:
        """Count one request of ``bucket``: 0.0 if it is within ``per_minute``, else the seconds to wait."""
        now = self.clock()
        window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        wait = window + WINDOW_SECONDS - now
        if self._closed.get(bucket) == window:
            return wait
        stale_before = None
        if window > self._swept:
            self._swept = window
            stale_before = window - (_KEEP_WINDOWS - 1) * WINDOW_SECONDS
        hits = await self.db.write(hit, bucket, window, stale_before)
        if hits <= per_minute:
            return 0.0
        self._closed = {name: w for name, w in self._closed.items() if w == window}  # forget past windows
        self._closed[bucket] = window
        return wait

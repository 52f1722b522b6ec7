"""The PostgreSQL engine's LISTEN connection, kept alive.

Invariants:

* While the engine is open there is (after at most one reconnect delay) a connection LISTENing on every
  channel. A broken connection is noticed by asyncpg's termination callback or, failing that (a silent
  network), by a ``SELECT 1`` every ``keepalive`` seconds, and replaced.
* Right after a (re)connect every doorbell is rung without a payload (``on_gap``), because notifications
  sent while nobody listened are lost: listeners re-read the database.
* Notifications carry the sender's origin tag; our own come back from the server and are dropped (they
  were delivered locally right after COMMIT).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import anyio
import asyncpg

from corral.db.base import CHANNELS
from corral.db.postgres.driver import Connection, connect

log = logging.getLogger(__name__)

SEPARATOR = "|"


def tag(origin: str, payload: str) -> str:
    return origin + SEPARATOR + payload


class Listener:
    def __init__(
        self,
        url: str,
        origin: str,
        on_payload: Callable[[str, str], None],
        on_gap: Callable[[], None],
        keepalive: float,
    ):
        self._url = url
        self._origin = origin
        self._on_payload = on_payload
        self._on_gap = on_gap
        self._keepalive = keepalive
        self._conn: Connection | None = None
        self._lost = anyio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop()

    @property
    def backend_pid(self) -> int | None:
        return None if self._conn is None else self._conn.get_server_pid()

    async def _connect(self) -> None:
        conn = await connect(self._url)
        try:
            for channel in CHANNELS:
                await conn.add_listener(channel, self._notified)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._terminated)
        self._lost = anyio.Event()
        self._conn = conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _notified(self, conn: Connection, pid: int, channel: str, payload: str) -> None:
        origin, _, body = payload.partition(SEPARATOR)
        if origin != self._origin:
            self._on_payload(channel, body)

    def _terminated(self, conn: Connection) -> None:
        if conn is self._conn:
            self._lost.set()

    async def _supervise(self) -> None:
        while True:
            with anyio.move_on_after(self._keepalive):
                await self._lost.wait()
            if not self._lost.is_set() and await self._alive():
                continue
            await self._reconnect()

    async def _alive(self) -> bool:
        conn = self._conn
        if conn is None or conn.is_closed():
            return False
        try:
            with anyio.fail_after(max(1.0, self._keepalive)):
                await conn.fetchval("SELECT 1")
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        return True

    async def _reconnect(self) -> None:
        await self._drop()
        delay = 0.05
        while True:
            try:
                await self._connect()
                break
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("LISTEN connection lost; reconnecting in %.2fs: %s", delay, exc)
                await anyio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.reconnects += 1
        self._on_gap()

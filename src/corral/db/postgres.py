"""PostgreSQL engine on asyncpg: a connection pool for flows, one dedicated connection for LISTEN.

Invariants:

* A write flow runs in one transaction; serialisation failures and deadlocks re-run the whole flow
  (flows are pure functions of their arguments and what they read, so re-running is safe).
* ``notify`` queries become ``pg_notify`` inside the transaction, so PostgreSQL delivers them to every
  process only if it commits. This process's own listeners are told directly after COMMIT (faster than
  the round trip), and the echo of our own notifications from the server is ignored.
* If the LISTEN connection breaks, it is re-opened and every doorbell rung, since notifications may have
  been missed in between.
* A flow that catches ``UniqueViolation`` must not issue further queries (the transaction is aborted).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import anyio
import asyncpg

from corral.db._flows import UniqueViolation, step
from corral.db.base import CHANNELS, Database
from corral.db.migrate import CREATE_TABLE, migrations
from corral.db.query import FlowFn, Query, render
from corral.errors import StorageError
from corral.ids import now, rfc3339

_RETRYABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
_MIGRATION_LOCK = 0x636F7272  # "corr"


def _rowcount(status: str) -> int:
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20):
        super().__init__()
        self.url = url
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._own_pids: set[int] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False

    async def _init_connection(self, conn: asyncpg.Connection) -> None:
        self._own_pids.add(conn.get_server_pid())

    async def open(self) -> None:
        try:
            await self._migrate()
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self._min_size, max_size=self._max_size, init=self._init_connection
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise StorageError(f"cannot open PostgreSQL database: {exc}") from exc
        await self._connect_listener()

    async def _migrate(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(CREATE_TABLE)
                applied = {row[0] for row in await conn.fetch("SELECT version FROM corral_migrations")}
                for migration in migrations("postgres"):
                    if migration.version in applied:
                        continue
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO corral_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        rfc3339(now()),
                    )
        finally:
            await conn.close()

    async def _connect_listener(self) -> None:
        conn = await asyncpg.connect(self.url)
        for channel in CHANNELS:
            await conn.add_listener(channel, self._on_notification)
        conn.add_termination_listener(self._on_listener_lost)
        self._listener = conn

    def _on_notification(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if pid in self._own_pids:
            return  # already delivered locally right after our COMMIT
        self._deliver(channel, payload)

    def _on_listener_lost(self, conn: Any) -> None:
        if not self._closing and self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(self._reconnect_listener())

    async def _reconnect_listener(self) -> None:
        delay = 0.05
        while not self._closing:
            try:
                await self._connect_listener()
                self._deliver_everywhere()
                break
            except (OSError, asyncpg.PostgresError):
                await anyio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self._supervisor = None

    async def close(self) -> None:
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StorageError("database is not open")
        return self._pool

    async def _execute(self, conn: Any, query: Query, notes: list[tuple[str, str]]) -> Any:
        if query.kind == "notify":
            notes.append((query.args[0], query.args[1]))
            await conn.execute("SELECT pg_notify($1, $2)", query.args[0], query.args[1])
            return None
        sql = render(query.sql, "postgres")
        if query.kind == "one":
            return await conn.fetchrow(sql, *query.args)
        if query.kind == "all":
            return await conn.fetch(sql, *query.args)
        if query.kind == "many":
            await conn.executemany(sql, query.rows)
            return None
        return _rowcount(await conn.execute(sql, *query.args))

    async def _run(self, conn: Any, flow_fn: FlowFn, args: tuple[Any, ...], notes: list[tuple[str, str]]) -> Any:
        flow = flow_fn(*args)
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                query = step(flow, value, error)
            except StopIteration as stop:
                return stop.value
            try:
                value, error = await self._execute(conn, query, notes), None
            except asyncpg.UniqueViolationError as exc:
                value, error = None, UniqueViolation(str(exc))

    async def write(self, flow: FlowFn, *args: Any) -> Any:
        for attempt in range(8):
            notes: list[tuple[str, str]] = []
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    result = await self._run(conn, flow, args, notes)
            except _RETRYABLE:
                await anyio.sleep(0.002 * (2**attempt))
                continue
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raise StorageError(f"postgres write failed: {exc}") from exc
            for channel, payload in notes:
                self._deliver(channel, payload)
            return result
        raise StorageError("postgres write kept conflicting; gave up after 8 attempts")

    async def announce(self, channel: str, payload: str) -> None:
        self._deliver(channel, payload)
        try:
            await self.pool.execute("SELECT pg_notify($1, $2)", channel, payload)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass  # live-only data: other processes miss this one delta, nothing durable is lost

    async def read(self, flow: FlowFn, *args: Any) -> Any:
        try:
            async with self.pool.acquire() as conn:
                return await self._run(conn, flow, args, [])
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StorageError(f"postgres read failed: {exc}") from exc

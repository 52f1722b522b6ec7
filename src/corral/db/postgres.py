"""PostgreSQL engine on asyncpg: a connection pool for flows, one supervised connection for LISTEN.

Invariants:

* A write flow runs in one READ COMMITTED transaction; its result is returned only after COMMIT returned.
  Serialisation failures and deadlocks re-run the whole flow (flows are pure functions of their arguments
  and of what they read, so re-running is safe); any other database failure is a ``StorageError``.
* ``notify`` queries become ``pg_notify`` calls sent together with the COMMIT (one round trip), so
  PostgreSQL delivers them to every process only if the transaction commits. This process's own
  listeners are told directly after COMMIT; the server's echo of our own notifications is dropped
  (origin tag, ``_pg_listener``).
* Listener health, reconnects and the doorbell after a gap are ``_pg_listener``'s job.
* ``read`` sees one snapshot: a single statement needs no transaction; a flow that asks for a second
  statement is re-run from the start inside a REPEATABLE READ, READ ONLY transaction.
* Pool: ``min_size`` connections are kept open, at most ``max_size`` are used at once; a caller waits for a
  free connection rather than failing.
"""

from __future__ import annotations

import secrets
from typing import Any

import anyio
import asyncpg

from corral.db._flows import FlowState
from corral.db._pg_listener import Listener, tag
from corral.db.base import CHANNELS, Database
from corral.db.migrate import CREATE_TABLE, migrations
from corral.db.query import FlowFn, Query, render
from corral.errors import StorageError
from corral.ids import now, rfc3339

_RETRYABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
_FAILURES = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
_MIGRATION_LOCK = 0x636F7272  # "corr"
ATTEMPTS = 8

Note = tuple[str, str]


def _rowcount(status: str) -> int:
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


async def _execute(conn: Any, query: Query, notes: list[Note]) -> Any:
    kind = query.kind
    if kind == "notify":
        notes.append((query.args[0], query.args[1]))
        return None
    sql = render(query.sql, "postgres")
    if kind == "one":
        return await conn.fetchrow(sql, *query.args)
    if kind == "all":
        return await conn.fetch(sql, *query.args)
    if kind == "many":
        await conn.executemany(sql, query.rows)
        return None
    return _rowcount(await conn.execute(sql, *query.args))


class _NeedsSnapshot(Exception):
    """A read flow asked for a second query: run it again inside a snapshot transaction."""


async def run_flow(
    conn: Any, flow_fn: FlowFn, args: tuple[Any, ...], notes: list[Note], *, single: bool = False
) -> tuple[Any, bool]:
    """Drive a flow on ``conn``; returns its value and whether it is void (then the caller rolls back).

    ``single``: the caller runs no transaction, so a second query raises ``_NeedsSnapshot``.
    """
    state = FlowState(flow_fn(*args))
    queries = 0
    while (query := state.next_query()) is not None:
        queries += 1
        if single and queries > 1:
            state.flow.close()
            raise _NeedsSnapshot
        try:
            state.answer(await _execute(conn, query, notes))
        except asyncpg.UniqueViolationError as exc:
            state.unique_violation(str(exc))  # PostgreSQL has aborted the transaction
    if state.void:
        notes.clear()
    return state.value, state.void


async def _keep_session(conn: Any) -> None:
    """Pool reset: flows leave no session state behind (asyncpg itself rolls back an open transaction)."""


def _quote(tag: str, text: str) -> str | None:
    """``text`` as a dollar-quoted literal, or None if it contains the tag."""
    return None if tag in text else f"{tag}{text}{tag}"


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20, keepalive: float = 5.0):
        super().__init__()
        self.url = url
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._origin = secrets.token_hex(6)
        self._dollar = f"$n{self._origin}$"
        self._listener = Listener(url, self._origin, self._deliver, self._deliver_everywhere, keepalive)

    async def open(self) -> None:
        try:
            await self._migrate()
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self._min_size, max_size=self._max_size, reset=_keep_session
            )
            await self._listener.start()
        except _FAILURES as exc:
            await self.close()
            raise StorageError(f"cannot open PostgreSQL database: {exc}") from exc

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

    async def close(self) -> None:
        await self._listener.stop()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StorageError("database is not open")
        return self._pool

    @property
    def listener(self) -> Listener:
        return self._listener

    async def write(self, flow: FlowFn, *args: Any) -> Any:
        for attempt in range(ATTEMPTS):
            try:
                result, notes = await self._write_once(flow, args)
            except _RETRYABLE:
                await anyio.sleep(0.002 * (2**attempt))
                continue
            except _FAILURES as exc:
                raise StorageError(f"postgres write failed: {exc}") from exc
            for channel, payload in notes:
                self._deliver(channel, payload)
            return result
        raise StorageError(f"postgres write kept conflicting; gave up after {ATTEMPTS} attempts")

    async def _write_once(self, flow: FlowFn, args: tuple[Any, ...]) -> tuple[Any, list[Note]]:
        """BEGIN, the flow, then its notifications and COMMIT in one round trip (or ROLLBACK)."""
        notes: list[Note] = []
        async with self.pool.acquire() as conn:
            await conn.execute("BEGIN")
            try:
                result, void = await run_flow(conn, flow, args, notes)
                await (conn.execute("ROLLBACK") if void else self._commit(conn, notes))
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await _rollback(conn)
                raise
        return result, notes

    async def _commit(self, conn: Any, notes: list[Note]) -> None:
        calls = [self._notify_call(channel, payload) for channel, payload in notes]
        literal = [call for call in calls if call is not None]
        if len(literal) < len(calls):  # a payload we cannot quote: send the notifications as parameters
            marks = ", ".join(f"pg_notify(${2 * i + 1}, ${2 * i + 2})" for i in range(len(notes)))
            await conn.execute(f"SELECT {marks}", *[v for c, p in notes for v in (c, tag(self._origin, p))])
            literal = []
        await conn.execute(f"SELECT {', '.join(literal)}; COMMIT" if literal else "COMMIT")

    def _notify_call(self, channel: str, payload: str) -> str | None:
        """``pg_notify(…)`` with literal arguments (dollar-quoted with a per-engine tag), or None."""
        quoted = _quote(self._dollar, tag(self._origin, payload))
        return None if quoted is None or channel not in CHANNELS else f"pg_notify('{channel}', {quoted})"

    async def announce(self, channel: str, payload: str) -> None:
        self._deliver(channel, payload)
        try:
            await self.pool.execute("SELECT pg_notify($1, $2)", channel, tag(self._origin, payload))
        except _FAILURES:
            pass  # live-only data: other processes miss this one delta, nothing durable is lost

    async def read(self, flow: FlowFn, *args: Any) -> Any:
        """One statement is its own snapshot; a flow that asks for a second one is re-run in a transaction."""
        try:
            async with self.pool.acquire() as conn:
                try:
                    return (await run_flow(conn, flow, args, [], single=True))[0]
                except _NeedsSnapshot:
                    pass
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    return (await run_flow(conn, flow, args, []))[0]
        except _FAILURES as exc:
            raise StorageError(f"postgres read failed: {exc}") from exc


async def _rollback(conn: Any) -> None:
    if not conn.is_closed() and conn.is_in_transaction():
        try:
            await conn.execute("ROLLBACK")
        except _FAILURES:
            conn.terminate()  # the pool replaces it

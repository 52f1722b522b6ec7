"""PostgreSQL engine on asyncpg: two connection pools for flows, one supervised connection for LISTEN.

Invariants:

* A write flow runs in one READ COMMITTED transaction; its result is returned only after COMMIT returned.
  Serialisation failures and deadlocks re-run the whole flow (flows are pure functions of their arguments
  and of what they read, so re-running is safe); any other database failure is a ``StorageError``.
* ``notify`` queries become ``pg_notify`` calls sent together with the COMMIT (one round trip), so
  PostgreSQL delivers them to every process only if the transaction commits. This process's own
  listeners are told directly after COMMIT; the server's echo of our own notifications is dropped
  (origin tag, ``listener``).
* Listener health, reconnects and the doorbell after a gap are ``listener``'s job.
* ``read`` sees one snapshot: a single statement needs no transaction; a flow that asks for a second
  statement is re-run from the start inside a REPEATABLE READ, READ ONLY transaction.
* Two pools share ``min_size``/``max_size`` half and half: writes, and reads on connections whose
  transactions are read-only (so a read can never write, even as a single autocommit statement, and heavy
  reading cannot starve writers). A caller waits for a free connection rather than failing.
* ``close`` refuses new work, lets what is in flight finish, then closes every connection.
* ``write_grouped`` writes of this process share transactions (``groups``); each is still answered only after
  its group's COMMIT returned, and one that fails is undone alone.
"""

from __future__ import annotations

import secrets
from operator import attrgetter
from typing import TypeVar

import anyio
import anyio.to_thread

from corral.db.base import CHANNELS, Database
from corral.db.migrate import CREATE_TABLE, migrations
from corral.db.postgres.driver import Connection, Pool, create_pool
from corral.db.postgres.flows import FAILURES, RETRYABLE, NeedsSnapshot, Note, keep_session, quote, rollback, run_flow
from corral.db.postgres.gate import Gate
from corral.db.postgres.groups import Groups, Pending, Undone, transaction
from corral.db.postgres.listener import Listener, tag
from corral.db.query import BoundFlow
from corral.errors import StorageError
from corral.ids import now, rfc3339

_MIGRATION_LOCK = 0x636F7272  # "corr"
ATTEMPTS = 8

T = TypeVar("T")


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20, keepalive: float = 5.0):
        super().__init__()
        self.url = url
        self._min_size = min_size
        self._max_size = max_size
        self._pool: Pool | None = None
        self._read_pool: Pool | None = None
        self._origin = secrets.token_hex(6)
        self._dollar = f"$n{self._origin}$"
        self._listener = Listener(url, self._origin, self._deliver, self._deliver_everywhere, keepalive)
        self._gate = Gate()
        self._groups = Groups(self._run_group)

    async def open(self) -> None:
        writers, readers = max(1, self._max_size // 2), max(1, self._max_size - self._max_size // 2)
        least = max(1, self._min_size // 2)
        try:
            self._pool = await create_pool(self.url, min_size=min(least, writers), max_size=writers, reset=keep_session)
            self._read_pool = await create_pool(
                self.url,
                min_size=min(least, readers),
                max_size=readers,
                reset=keep_session,
                server_settings={"default_transaction_read_only": "on"},
            )
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._migrate, self._pool)
                tg.start_soon(self._listener.start)
        except (*FAILURES, ExceptionGroup) as exc:
            await self.close()
            raise StorageError(f"cannot open PostgreSQL database: {exc}") from exc

    async def _migrate(self, pool: Pool) -> None:
        scripts = await anyio.to_thread.run_sync(migrations, "postgres")  # files: not on the event loop
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(CREATE_TABLE)
            applied = {row[0] for row in await conn.fetch("SELECT version FROM corral_migrations")}
            for migration in scripts:
                if migration.version in applied:
                    continue
                self.migrated.append(f"{migration.version:04d}_{migration.name}")
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO corral_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    rfc3339(now()),
                )

    async def close(self) -> None:
        """Refuse new work, let the operations in flight finish, then close every connection."""
        await self._gate.close()
        await self._listener.stop()
        for pool in (self._pool, self._read_pool):
            if pool is not None:
                await pool.close()
        self._pool = self._read_pool = None

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            raise StorageError("database is not open")
        return self._pool

    @property
    def listener(self) -> Listener:
        return self._listener

    async def _write(self, flow: BoundFlow[T]) -> T:
        with self._gate.enter():
            for attempt in range(ATTEMPTS):
                try:
                    result, notes = await self._write_once(flow)
                except RETRYABLE:
                    await anyio.sleep(0.002 * (2**attempt))
                    continue
                except FAILURES as exc:
                    raise StorageError(f"postgres write failed: {exc}") from exc
                for channel, payload in notes:
                    self._deliver(channel, payload)
                return result
        raise StorageError(f"postgres write kept conflicting; gave up after {ATTEMPTS} attempts")

    async def _write_grouped(self, key: str, flow: BoundFlow[T]) -> T:
        with self._gate.enter():
            value: T = await self._groups.write(key, flow)
            return value

    async def _run_group(self, group: list[Pending]) -> list[Pending]:
        """One transaction for ``group`` (``groups``): answers its writes, returns those that met a conflict."""
        group.sort(key=attrgetter("key"))
        try:
            async with self.pool.acquire() as conn:
                try:
                    outcomes = await transaction(conn, group, self._commit, savepoints=False)
                except Undone:  # one was undone, and with it the others: again, each in its own savepoint
                    outcomes = await transaction(conn, group, self._commit, savepoints=True)
        except RETRYABLE:  # met at COMMIT: nothing of the group was kept, every write runs again
            return group
        except FAILURES as exc:
            error = StorageError(f"postgres write failed: {exc}")
            for pending in group:
                pending.answer(None, error)
            return []
        conflicts: list[Pending] = []
        for pending, outcome in zip(group, outcomes, strict=True):
            if outcome.conflict:
                conflicts.append(pending)
            else:
                pending.answer(outcome.value, outcome.error)
        for outcome in outcomes:
            for channel, payload in outcome.notes or ():
                self._deliver(channel, payload)
        return conflicts

    async def _write_once(self, flow: BoundFlow[T]) -> tuple[T, list[Note]]:
        """BEGIN, the flow, then its notifications and COMMIT in one round trip (or ROLLBACK)."""
        notes: list[Note] = []
        async with self.pool.acquire() as conn:
            await conn.execute("BEGIN")
            try:
                result, void = await run_flow(conn, flow, notes)
                await (conn.execute("ROLLBACK") if void else self._commit(conn, notes))
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await rollback(conn)
                raise
        return result, notes

    async def _commit(self, conn: Connection, notes: list[Note]) -> None:
        calls = [self._notify_call(channel, payload) for channel, payload in notes]
        literal = [call for call in calls if call is not None]
        if len(literal) < len(calls):  # a payload we cannot quote: send the notifications as parameters
            marks = ", ".join(f"pg_notify(${2 * i + 1}, ${2 * i + 2})" for i in range(len(notes)))
            await conn.execute(f"SELECT {marks}", *[v for c, p in notes for v in (c, tag(self._origin, p))])
            literal = []
        await conn.execute(f"SELECT {', '.join(literal)}; COMMIT" if literal else "COMMIT")

    def _notify_call(self, channel: str, payload: str) -> str | None:
        """``pg_notify(…)`` with literal arguments (dollar-quoted with a per-engine tag), or None."""
        quoted = quote(self._dollar, tag(self._origin, payload))
        return None if quoted is None or channel not in CHANNELS else f"pg_notify('{channel}', {quoted})"

    async def announce(self, channel: str, payload: str) -> None:
        self._deliver(channel, payload)
        try:
            with self._gate.enter():
                await self.pool.execute("SELECT pg_notify($1, $2)", channel, tag(self._origin, payload))
        except (*FAILURES, StorageError):
            pass  # live-only data: other processes miss this one delta, nothing durable is lost

    async def _read(self, flow: BoundFlow[T]) -> T:
        """One statement is its own snapshot; a flow that asks for a second one is re-run in a transaction."""
        with self._gate.enter():
            if self._read_pool is None:
                raise StorageError("database is not open")
            try:
                async with self._read_pool.acquire() as conn:
                    try:
                        return (await run_flow(conn, flow, [], single=True))[0]
                    except NeedsSnapshot:
                        pass
                    async with conn.transaction(isolation="repeatable_read", readonly=True):
                        return (await run_flow(conn, flow, []))[0]
            except FAILURES as exc:
                raise StorageError(f"postgres read failed: {exc}") from exc

"""Running flows on an asyncpg connection (the PostgreSQL half of ``corral.db.query``'s one code path)."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import anyio
import asyncpg

from corral.db._flows import FlowState
from corral.db.query import FlowFn, Query, render
from corral.errors import StorageError

RETRYABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
FAILURES = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)

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


class NeedsSnapshot(Exception):
    """A read flow asked for a second query: run it again inside a snapshot transaction."""


async def run_flow(
    conn: Any, flow_fn: FlowFn, args: tuple[Any, ...], notes: list[Note], *, single: bool = False
) -> tuple[Any, bool]:
    """Drive a flow on ``conn``; returns its value and whether it is void (then the caller rolls back).

    ``single``: the caller runs no transaction, so a second query raises ``NeedsSnapshot``.
    """
    state = FlowState(flow_fn(*args))
    queries = 0
    while (query := state.next_query()) is not None:
        queries += 1
        if single and queries > 1:
            state.flow.close()
            raise NeedsSnapshot
        try:
            state.answer(await _execute(conn, query, notes))
        except asyncpg.UniqueViolationError as exc:
            state.unique_violation(str(exc))  # PostgreSQL has aborted the transaction
    if state.void:
        notes.clear()
    return state.value, state.void


async def keep_session(conn: Any) -> None:
    """Pool reset: flows leave no session state behind (asyncpg itself rolls back an open transaction)."""


def quote(tag: str, text: str) -> str | None:
    """``text`` as a dollar-quoted literal, or None if it contains the tag."""
    return None if tag in text else f"{tag}{text}{tag}"


async def rollback(conn: Any) -> None:
    if not conn.is_closed() and conn.is_in_transaction():
        try:
            await conn.execute("ROLLBACK")
        except FAILURES:
            conn.terminate()  # the pool replaces it


class Gate:
    """Counts operations in flight; once shut, refuses new ones, and ``shut`` waits for the others to end."""

    def __init__(self) -> None:
        self._count = 0
        self._idle: anyio.Event | None = None
        self.shut = False

    @contextmanager
    def enter(self) -> Generator[None]:
        if self.shut:
            raise StorageError("database is closed")
        self._count += 1
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0 and self._idle is not None:
                self._idle.set()

    async def close(self) -> None:
        self.shut = True
        if self._count:
            self._idle = anyio.Event()
            await self._idle.wait()

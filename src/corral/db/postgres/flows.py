"""Running flows on an asyncpg connection (the PostgreSQL half of ``corral.db.query``'s one code path)."""

from __future__ import annotations

from typing import Any

import asyncpg

from corral.db._flows import FlowState
from corral.db.postgres.driver import Connection
from corral.db.query import BoundFlow, Query, Row, render

RETRYABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
FAILURES = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)

Note = tuple[str, str]
"""A notification a flow asked for: ``(channel, payload)``, sent with the COMMIT."""


def _rowcount(status: str) -> int:
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


async def _execute(conn: Connection, query: Query, notes: list[Note]) -> Row | list[Row] | int | str | None:
    kind = query.kind
    if kind == "notify":
        channel, payload = query.args
        notes.append((str(channel), str(payload)))
        return None
    if kind == "dialect":
        return "postgres"
    sql = render(query.sql, "postgres")
    if kind == "one":
        return await conn.fetchrow(sql, *query.args)
    if kind == "all":
        rows: list[Row] = list(await conn.fetch(sql, *query.args))
        return rows
    if kind == "many":
        await conn.executemany(sql, query.rows)
        return None
    return _rowcount(await conn.execute(sql, *query.args))


class NeedsSnapshot(Exception):
    """A read flow asked for a second query: run it again inside a snapshot transaction."""


async def run_flow(
    conn: Connection, flow: BoundFlow[Any], notes: list[Note], *, single: bool = False
) -> tuple[Any, bool]:
    """Drive a flow on ``conn``; returns its value and whether it is void (then the caller rolls back).

    ``single``: the caller runs no transaction, so a second query raises ``NeedsSnapshot``.
    """
    state = FlowState(flow())
    queries = 0
    while (query := state.next_query()) is not None:
        queries += query.kind != "dialect"  # no statement runs
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


async def keep_session(conn: Connection) -> None:
    """Pool reset: flows leave no session state behind (asyncpg itself rolls back an open transaction)."""


def quote(tag: str, text: str) -> str | None:
    """``text`` as a dollar-quoted literal, or None if it contains the tag."""
    return None if tag in text else f"{tag}{text}{tag}"


async def rollback(conn: Connection) -> None:
    if not conn.is_closed() and conn.is_in_transaction():
        try:
            await conn.execute("ROLLBACK")
        except FAILURES:
            conn.terminate()  # the pool replaces it

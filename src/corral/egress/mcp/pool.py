"""``Connections``: the open MCP connections of a process, one per (session, server, token), reused across calls.

Invariants:

* Inside ``async with Connections(…)``, a connection opens on first use and serves the next work with the same key;
  it closes after ``idle`` seconds unused, when it breaks, when its server refuses its token, and when the pool
  closes (which waits for every connection to end). Outside it, each work gets a connection of its own, closed
  when the work ends: nothing outlives a call.
* Work is tried once more, on a fresh connection, only when a reused connection broke under it and either no
  request of the work can have reached a tool (``Attempt.untouched``) or the work is ``idempotent`` (a listing):
  a call that may have reached the server is never made twice.
* A key holds a digest of the token, never the token itself.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import anyio
from anyio.abc import TaskGroup

from corral.egress.addresses import AddressGuard
from corral.egress.mcp.terms import Attempt, Broken, Refused, ServerRef

if TYPE_CHECKING:
    from mcp import Client

    from corral.egress.mcp.connection import Connection

T = TypeVar("T")
Key = tuple[str, str, str, str]
IDLE = 120.0


class Connections:
    def __init__(self, guard: AddressGuard, seconds: float, idle: float = IDLE):
        self.guard = guard
        self.seconds = seconds
        self.idle = idle
        self._open: dict[Key, Connection] = {}
        self._locks: dict[Key, anyio.Lock] = {}
        self._stack = AsyncExitStack()
        self._tasks: TaskGroup | None = None

    async def __aenter__(self) -> Connections:
        self._tasks = await self._stack.enter_async_context(anyio.create_task_group())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        for connection in list(self._open.values()):
            connection.close()
        try:  # the hosts never raise: what the body raised goes on as it is, not wrapped in the task group's group
            await self._stack.__aexit__(None, None, None)
        finally:
            self._tasks = None
        return None

    def opened(self) -> list[Connection]:
        """The connections open now."""
        return [connection for connection in self._open.values() if connection.alive]

    async def run(
        self,
        session_id: str,
        server: ServerRef,
        token: str | None,
        work: Callable[[Client], Awaitable[T]],
        *,
        idempotent: bool = False,
    ) -> T:
        """``work`` on the connection of ``(session_id, server, token)``; raises ``Refused`` or
        ``McpConnectionFailed``, or the server's ``MCPError`` answer to the work."""
        tasks = self._tasks
        if tasks is None:
            return await self._once(server, token, work)
        key = (session_id, server.name, server.url, hashlib.sha256((token or "").encode()).hexdigest())
        connection, reused = await self._lease(tasks, key, server, token)
        try:
            return await _on(connection, work)
        except Broken as broken:
            if not (reused and (broken.untouched or idempotent)):
                raise broken.failure from None
        connection, _ = await self._lease(tasks, key, server, token)  # the broken one is closed: a fresh one
        try:
            return await _on(connection, work)
        except Broken as broken:
            raise broken.failure from None

    async def _lease(self, tasks: TaskGroup, key: Key, server: ServerRef, token: str | None) -> tuple[Connection, bool]:
        """The open connection of ``key`` (and True), or a new one (and False)."""
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            connection = self._open.get(key)
            if connection is not None and connection.alive:
                return connection, True
            connection = _connection(server, token, self.guard, self.seconds, self.idle)
            self._open[key] = connection
            await connection.open(tasks, lambda: self._forget(key, connection))
            return connection, False

    def _forget(self, key: Key, connection: Connection) -> None:
        if self._open.get(key) is connection:
            del self._open[key]
            lock = self._locks.get(key)
            if lock is not None and not lock.locked():
                del self._locks[key]

    async def _once(self, server: ServerRef, token: str | None, work: Callable[[Client], Awaitable[T]]) -> T:
        connection = _connection(server, token, self.guard, self.seconds, math.inf)
        outcome: list[T] = []
        error: list[Exception] = []  # raised after the task group: inside it, it would come out in a group
        async with anyio.create_task_group() as tasks:
            try:
                await connection.open(tasks)
                outcome.append(await _on(connection, work))
            except Broken as broken:
                error.append(broken.failure)
            except Exception as exc:
                error.append(exc)
            finally:
                connection.close()
        if error:
            raise error[0]
        return outcome[0]


async def _on(connection: Connection, work: Callable[[Client], Awaitable[T]]) -> T:
    try:
        return await connection.run(work, Attempt())
    except Refused:
        connection.close()  # the server will not take this token again: its next one gets a connection of its own
        raise


def _connection(server: ServerRef, token: str | None, guard: AddressGuard, seconds: float, idle: float) -> Connection:
    """A new connection. Its module (the MCP SDK) is imported here, not with this one: ``McpTools`` loads it in a
    thread before its first work, so this import is a lookup then."""
    from corral.egress.mcp.connection import Connection

    return Connection(server, token, guard, seconds, idle)

"""asyncpg behind typed protocols: the one place that trusts the driver's shapes.

asyncpg types its ``Record`` but ships no annotations for ``Connection`` and ``Pool``, so the engine sees them
through the protocols below (the subset it uses, as asyncpg documents it); ``connect`` and ``create_pool``
are the only ways in. Exceptions are asyncpg's own classes (those are typed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import asyncpg
from asyncpg import Record

from corral.db.query import Value

_asyncpg: Any = asyncpg  # untyped functions: their results are given the protocols' types below


class Connection(Protocol):
    async def execute(self, query: str, *args: Value) -> str: ...
    async def executemany(self, command: str, args: Iterable[Sequence[Value]]) -> None: ...
    async def fetch(self, query: str, *args: Value) -> list[Record]: ...
    async def fetchrow(self, query: str, *args: Value) -> Record | None: ...
    async def fetchval(self, query: str, *args: Value) -> Any: ...
    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False
    ) -> AbstractAsyncContextManager[Any]: ...
    def is_closed(self) -> bool: ...
    def is_in_transaction(self) -> bool: ...
    def terminate(self) -> None: ...
    async def close(self, *, timeout: float | None = None) -> None: ...  # noqa: ASYNC109 - asyncpg's signature
    def get_server_pid(self) -> int: ...
    async def add_listener(self, channel: str, callback: Callable[[Connection, int, str, str], None]) -> None: ...
    def add_termination_listener(self, callback: Callable[[Connection], None]) -> None: ...


class Pool(Protocol):
    def acquire(self) -> AbstractAsyncContextManager[Connection]: ...
    async def execute(self, query: str, *args: Value) -> str: ...
    async def close(self) -> None: ...


async def connect(url: str) -> Connection:
    connection: Connection = await _asyncpg.connect(url)
    return connection


async def create_pool(
    url: str,
    *,
    min_size: int,
    max_size: int,
    reset: Callable[[Connection], Awaitable[None]],
    server_settings: Mapping[str, str] | None = None,
) -> Pool:
    pool: Pool = await _asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, reset=reset, server_settings=server_settings
    )
    return pool

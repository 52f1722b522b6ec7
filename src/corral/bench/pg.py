"""The few asyncpg calls the benchmarks make themselves (cluster set-up, the bare PostgreSQL floor), typed.

asyncpg ships no annotations for ``Connection``; the bench sees it through the protocol below (the subset it
uses, as asyncpg documents it), and ``connect`` is the only way in. corral itself reaches PostgreSQL through
``corral.db``, never through this module.
"""

from __future__ import annotations

from typing import Any, Protocol

import asyncpg

_asyncpg: Any = asyncpg  # untyped: ``connect``'s result is given the protocol's type below


class Connection(Protocol):
    async def execute(self, query: str, *args: object) -> str: ...
    async def fetchval(self, query: str, *args: object) -> object: ...
    async def close(self) -> None: ...


async def connect(url: str) -> Connection:
    connection: Connection = await _asyncpg.connect(url)
    return connection

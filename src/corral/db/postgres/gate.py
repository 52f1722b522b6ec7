"""``Gate``: how the PostgreSQL engine closes. It counts operations in flight; once shut it refuses new ones,
and ``close`` returns when the last one in flight has ended."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager

import anyio

from corral.errors import StorageError


class Gate:
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

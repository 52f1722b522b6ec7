"""The engine interface that the stores build on.

Invariants every engine keeps:

* ``write(flow, *args)`` runs ``flow(*args)`` in one transaction; its result is returned only after COMMIT
  returned (so an acknowledged write survives a crash of the process), and an exception rolls it back
  entirely.
* ``read(flow, *args)`` sees a consistent snapshot and never writes.
* ``notify`` queries in a committed write reach every ``listen``-er of the channel, in this process and,
  where the engine can tell, in every other process on the same database. This process's listeners are
  called before ``write`` returns. A notification is a doorbell, not data: listeners re-read the database,
  so a lost or merged notification loses nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from functools import partial
from typing import ParamSpec, TypeVar

from corral.db.query import BoundFlow, Flow

CHANNELS = ("events", "wake", "deltas", "deployments", "webhooks", "work")
"""The notification channels corral uses: new events of a session, runnable sessions, live deltas, deployments
whose schedule changed, webhook deliveries to make, work queued for a self-hosted environment (payload: the
environment id)."""

Listener = Callable[[str | None], None]
"""Called with the payload, or with None for "something may have changed; re-read" (foreign writes)."""

P = ParamSpec("P")
T = TypeVar("T")


class Database(ABC):
    dialect: str
    url: str

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        #: the migrations this process applied when it opened the database (``0002_server_calls`` …)
        self.migrated: list[str] = []

    @abstractmethod
    async def open(self) -> None:
        """Connect, applying the migrations the database lacks (recorded in ``migrated``)."""

    @abstractmethod
    async def close(self) -> None: ...

    def write(self, flow: Callable[P, Flow[T]], /, *args: P.args, **kwargs: P.kwargs) -> Awaitable[T]:
        """Run ``flow(*args, **kwargs)`` in a write transaction and return its result once committed."""
        return self._write(partial(flow, *args, **kwargs))

    def write_grouped(self, key: str, flow: Callable[P, Flow[T]], /, *args: P.args, **kwargs: P.kwargs) -> Awaitable[T]:
        """``write`` for a short flow that locks at most the one row ``key`` names (an append: the session id).
        The engine may commit it together with other such writes, in one transaction, in ``key`` order; it is
        still answered only once committed, and undone alone if it raises."""
        return self._write_grouped(key, partial(flow, *args, **kwargs))

    def read(self, flow: Callable[P, Flow[T]], /, *args: P.args, **kwargs: P.kwargs) -> Awaitable[T]:
        """Run ``flow(*args, **kwargs)`` against a consistent snapshot."""
        return self._read(partial(flow, *args, **kwargs))

    @abstractmethod
    async def _write(self, flow: BoundFlow[T]) -> T: ...

    def _write_grouped(self, key: str, flow: BoundFlow[T]) -> Awaitable[T]:
        return self._write(flow)  # engines that group every write anyway (SQLite's writer thread)

    @abstractmethod
    async def _read(self, flow: BoundFlow[T]) -> T: ...

    async def announce(self, channel: str, payload: str) -> None:
        """Ring ``channel`` now, outside any transaction (live-only data such as deltas).

        The default reaches this process only; engines that can reach other processes override it.
        """
        self._deliver(channel, payload)

    def listen(self, channel: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every notification on ``channel``. Returns a function that stops it."""
        self._listeners.setdefault(channel, []).append(listener)

        def stop() -> None:
            listeners = self._listeners.get(channel, [])
            if listener in listeners:
                listeners.remove(listener)

        return stop

    def _deliver(self, channel: str, payload: str | None) -> None:
        for listener in list(self._listeners.get(channel, ())):
            listener(payload)

    def _deliver_everywhere(self) -> None:
        """A foreign write happened somewhere: ring every channel's doorbell without a payload."""
        for channel in list(self._listeners):
            self._deliver(channel, None)

"""The engine interface that the stores build on.

Invariants every engine keeps:

* ``write(flow)`` runs the flow in one transaction; its result is returned only after COMMIT returned
  (so an acknowledged write survives a crash of the process), and an exception rolls it back entirely.
* ``read(flow)`` sees a consistent snapshot and never writes.
* ``notify`` queries in a committed write reach every ``listen``-er of the channel, in this process and,
  where the engine can tell, in every other process on the same database. A notification is a doorbell,
  not data: listeners re-read the database, so a lost or merged notification loses nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from corral.db.query import FlowFn

CHANNELS = ("events", "wake", "deltas")
"""The notification channels corral uses: new events of a session, runnable sessions, live deltas."""

Listener = Callable[[str | None], None]
"""Called with the payload, or with None for "something may have changed; re-read" (foreign writes)."""


class Database(ABC):
    dialect: str
    url: str

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def write(self, flow: FlowFn, *args: Any) -> Any:
        """Run ``flow(*args)`` in a write transaction and return its result once committed."""

    @abstractmethod
    async def read(self, flow: FlowFn, *args: Any) -> Any:
        """Run ``flow(*args)`` against a consistent snapshot."""

    async def announce(self, channel: str, payload: str) -> None:
        """Ring ``channel`` now, outside any transaction (live-only data such as deltas).

        The default reaches this process only; engines that can reach other processes override it.
        """
        self._deliver(channel, payload)

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}

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

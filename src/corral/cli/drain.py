"""How ``corral serve`` and ``corral worker`` stop on SIGTERM (or SIGINT): drain, then exit within a bound.

* ``serve`` (``DrainingServer``): uvicorn stops accepting and finishes the requests in flight; open event
  streams end at once, cleanly (``corral.api.sse.close_streams``: the last chunk goes out, the SDK's iterator
  ends, the client may resume elsewhere with ``Last-Event-ID``); then the app's lifespan stops its workers.
* The workers (either command) are cancelled: each drive in flight stops where it is and releases its lease as
  still runnable, which rings the ``wake`` channel, so another worker takes the session at once rather than at
  lease expiry (``corral.harness.worker``); the sandbox journal keeps a tool call cut short from running twice.
* ``exit_deadline`` bounds it all: ``EXIT_SECONDS`` after the signal, the process ends (status 1) whatever
  its children do (a frozen sandbox or egress proxy); they see their parent die and end too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from types import FrameType

import uvicorn

from corral.api.sse import close_streams

log = logging.getLogger("corral.shutdown")

#: uvicorn's graceful wait (5 s) plus the workers' hand-over, with room to spare; well below any lease TTL
EXIT_SECONDS = 20.0


_deadline: threading.Timer | None = None


def exit_deadline(seconds: float = EXIT_SECONDS) -> None:
    """End the process in ``seconds`` unless it has ended by then (once: later calls change nothing)."""
    global _deadline
    if _deadline is not None:
        return
    _deadline = threading.Timer(seconds, _give_up, (seconds,))
    _deadline.daemon = True  # a process that ends in time is not held up by it
    _deadline.start()


def _give_up(seconds: float) -> None:
    log.error("shutdown did not finish within %.0f s: exiting now", seconds)
    logging.shutdown()
    os._exit(1)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, whose first SIGTERM also ends the event streams and arms ``exit_deadline``."""

    _loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        exit_deadline()
        if self._loop is not None:  # a signal handler interrupts the loop: the streams end from inside it
            self._loop.call_soon_threadsafe(close_streams)

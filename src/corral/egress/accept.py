"""Accepting connections on a listener without ever letting a client take the proxy down.

``serve`` is the proxy's accept loop for every listener it has (the control socket, each sandbox's channel):

* a connection beyond the listener's ``Slots`` is closed at once, so one sandbox holding thousands of
  connections costs the proxy one descriptor at a time, never its budget for the others;
* an accept error caused by the process or the system running short (``EMFILE``, ``ENFILE``, ``ENOBUFS``,
  ``ENOMEM`` …) is logged and retried after a short, growing pause; the connection waits in the backlog;
* a listener shut down by corral's side (it then polls as hung up) or any other accept error means the
  channel is gone: ``serve`` cuts the connections it carries and returns.

Invariant: a handler runs only while it holds a slot, and gives it back however it ends.
"""

from __future__ import annotations

import errno
import logging
import select
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from anyio.abc import SocketStream, UNIXSocketStream

log = logging.getLogger("corral.egress")

TRANSIENT = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EINTR, errno.ECONNABORTED, errno.EPROTO}
)
_FIRST_PAUSE, _LONGEST_PAUSE = 0.01, 0.5
_REPORT_EVERY = 1000


@dataclass
class Slots:
    """How many connections a listener may have open at once; ``refused`` counts those closed at the door."""

    limit: int
    active: int = 0
    refused: int = 0

    def take(self) -> bool:
        if self.active >= self.limit:
            self.refused += 1
            return False
        self.active += 1
        return True

    def give_back(self) -> None:
        self.active -= 1


def _accept_now(sock: socket.socket) -> socket.socket | None:
    try:
        connection, _ = sock.accept()
    except BlockingIOError:
        if _shut_down(sock):  # corral's side shut the socket down: it reads as ready, accept has nothing
            raise OSError(errno.ESHUTDOWN, "the listening socket was shut down") from None
        return None
    return connection


def _shut_down(sock: socket.socket) -> bool:
    probe = select.poll()
    probe.register(sock, select.POLLIN)
    return any(events & (select.POLLHUP | select.POLLRDHUP) for _, events in probe.poll(0))


async def _run(handler: Callable[[SocketStream], Awaitable[None]], connection: socket.socket, slots: Slots) -> None:
    try:
        stream = await UNIXSocketStream.from_socket(connection)
        await handler(stream)
    finally:
        slots.give_back()


async def serve(
    sock: socket.socket, handler: Callable[[SocketStream], Awaitable[None]], slots: Slots, name: str
) -> None:
    """Accept on the listening unix socket ``sock`` until it is gone; each connection runs ``handler`` in its own
    task. (Waiting with ``wait_readable`` rather than anyio's listener, whose accept can fail when a connection
    arrives as it is cancelled.)"""
    pause = _FIRST_PAUSE
    async with anyio.create_task_group() as tasks:
        while True:
            try:
                connection = _accept_now(sock)
                if connection is None:
                    await anyio.wait_readable(sock)
                    continue
            except OSError as exc:
                if exc.errno not in TRANSIENT:  # shut down by corral's side: stop serving, cut what it carried
                    log.info("egress %s: the listener is gone (%s)", name, exc.strerror or exc)
                    tasks.cancel_scope.cancel()
                    return
                log.warning("egress %s: accept failed (%s); retrying in %.2f s", name, exc.strerror, pause)
                await anyio.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)
                continue
            pause = _FIRST_PAUSE
            if not slots.take():
                connection.close()
                if slots.refused % _REPORT_EVERY == 1:
                    log.warning(
                        "egress %s: %d connections over the cap of %d refused", name, slots.refused, slots.limit
                    )
                continue
            tasks.start_soon(_run, handler, connection, slots)

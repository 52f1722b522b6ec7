"""A child process for ``test_accept``: ``accept.serve`` on a unix socket with very few descriptors to spare.

Each connection is held until its peer sends a byte (answered ``y``) and then closes; ``ready`` on stdout once
listening. Usage: ``python -m tests.egress.emfile_child SOCKET_PATH``.
"""

from __future__ import annotations

import logging
import resource
import socket
import sys

import anyio
from anyio.abc import SocketStream

from corral.egress import accept

DESCRIPTORS = 48


async def hold(stream: SocketStream) -> None:
    async with stream:
        try:
            await stream.receive()
            await stream.send(b"y")
            while await stream.receive():
                pass
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass


async def main(path: str) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(1024)
    sock.setblocking(False)
    print("ready", flush=True)
    await accept.serve(sock, hold, accept.Slots(100_000), "test")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, hard))
    anyio.run(main, sys.argv[1])

"""The proxy's accept loop (``corral.egress.accept``) when the process runs out of descriptors: EMFILE is
logged and retried, never fatal; once descriptors free up, waiting connections are served. Run for real in a
child process whose descriptor limit is tiny (``emfile_child``)."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from tests.egress.emfile_child import DESCRIPTORS

CLIENTS = 3 * DESCRIPTORS


def _line_with(pipe: IO[str] | None, needle: str, seconds: float = 60.0) -> str:
    """The first line of ``pipe`` (a text stream) that contains ``needle``; fails after ``seconds``."""
    assert pipe is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            line = pipe.readline()
            if not line:
                raise AssertionError(f"the child ended before printing {needle!r}")
            if needle in line:
                return line
    raise AssertionError(f"no line with {needle!r} within {seconds} s")


def _answer(client: socket.socket) -> bytes:
    client.settimeout(60)
    client.sendall(b"x")
    return client.recv(1)


def test_running_out_of_descriptors_is_never_fatal(tmp_path: Path) -> None:
    path = tmp_path / "listen.sock"
    command = [sys.executable, "-m", "tests.egress.emfile_child", str(path)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    clients: list[socket.socket] = []
    try:
        _line_with(child.stdout, "ready")
        for _ in range(CLIENTS):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(str(path))
            clients.append(client)
        assert "accept failed (Too many open files)" in _line_with(child.stderr, "accept failed")
        held, waiting = clients[:-5], clients[-5:]
        for client in held:
            client.close()
        assert [_answer(client) for client in waiting] == [b"y"] * len(waiting)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as fresh:
            fresh.connect(str(path))
            assert _answer(fresh) == b"y"
        assert child.poll() is None
    finally:
        for client in clients:
            client.close()
        child.kill()
        child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()

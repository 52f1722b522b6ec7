"""Sweeping stale runtime directories never waits on a busy egress proxy (one whose control socket's backlog is
full): it is alive, so its directory stays, and the sweep goes on at once."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from corral.sandbox.local.layout import abandoned


def test_a_proxy_with_a_full_backlog_is_not_abandoned_and_does_not_block(tmp_path: Path) -> None:
    (tmp_path / "egress").mkdir()
    path = str(tmp_path / "egress" / "control.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen(0)
        waiting: list[socket.socket] = []
        try:
            while True:  # fill the backlog: the next connect would block
                client = socket.socket(socket.AF_UNIX)
                client.setblocking(False)
                waiting.append(client)
                try:
                    client.connect(path)
                except BlockingIOError:
                    break
            os.utime(tmp_path, (0, 0))  # past the grace period
            assert abandoned(tmp_path) is False
        finally:
            for client in waiting:
                client.close()
    assert abandoned(tmp_path) is True  # nobody listens any more

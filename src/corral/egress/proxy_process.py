"""One egress proxy process as its supervisor handles it: started, waiting in standby, promoted, stopped.

A proxy process prints ``standby`` once it could serve (interpreter started, mitmproxy listening), waits for
``go`` on its stdin, then serves its control socket and prints ``ready``. So a supervisor can keep one warm:
promoting a proxy in standby takes milliseconds, starting one takes the interpreter's start-up (a second or
more on a busy machine).

Invariants: ``pid`` is the proxy's own (bwrap's child, which bwrap reports on ``--info-fd``, when jailed);
``stop`` always returns within about ``2 × STOP_GRACE`` seconds, whatever the process does, and reaps it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from corral.egress import jail

log = logging.getLogger("corral.egress")
STANDBY, READY, GO = b"standby", b"ready", b"go\n"
STOP_GRACE = 3.0
_ENDED = (anyio.EndOfStream, anyio.IncompleteRead, anyio.DelimiterNotFound, anyio.BrokenResourceError)


def _signal(pid: int, number: signal.Signals) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


async def _read_all(fd: int) -> bytes:
    """Everything written to the pipe ``fd`` until its writer closes it (cancellable)."""
    os.set_blocking(fd, False)
    data = b""
    while True:
        await anyio.wait_readable(fd)
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            continue
        if not chunk:
            return data
        data += chunk


@dataclass
class ProxyProcess:
    process: Process
    pid: int
    lines: BufferedByteReceiveStream

    @property
    def ended(self) -> bool:
        return self.process.returncode is not None

    async def says(self, word: bytes, limit: float) -> bool:
        """Its next line is ``word`` (within ``limit`` seconds); False if not, or if it ended first."""
        with anyio.move_on_after(limit):
            try:
                return await self.lines.receive_until(b"\n", 1024) == word
            except _ENDED:
                return False
        return False

    async def promote(self) -> bool:
        """Tell a proxy in standby to serve; False if it cannot hear it any more."""
        assert self.process.stdin is not None
        try:
            await self.process.stdin.send(GO)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return False
        return True

    async def run_out(self) -> None:
        """Until it exits, its output drained so that it never blocks on it."""
        try:
            async for _ in self.lines:
                pass
        except _ENDED:
            pass
        await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM to the proxy, SIGKILL to it and its bwrap after ``STOP_GRACE``: always returns, soon."""
        process = self.process
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                _signal(self.pid, signal.SIGTERM)
                with anyio.move_on_after(STOP_GRACE):
                    await process.wait()
            if process.returncode is None:
                _signal(self.pid, signal.SIGKILL)
                _signal(process.pid, signal.SIGKILL)
                with anyio.move_on_after(STOP_GRACE):
                    await process.wait()
            if process.returncode is None:
                log.error("egress proxy (pid %d) survived SIGKILL; leaving it", process.pid)
                if process.stdout is not None:
                    await process.stdout.aclose()
            else:
                await process.aclose()  # its pipes and transport, before the event loop goes


async def start(argv: Callable[[int | None], list[str]], control_fd: int, jailed: bool) -> ProxyProcess:
    """Start a proxy (``argv(info_fd)`` builds its command; ``info_fd`` is None unless ``jailed``)."""
    if not jailed:
        process = await _open(argv(None), (control_fd,))
        return _wrap(process, process.pid)
    info_read, info_write = os.pipe()
    process: Process | None = None
    try:
        process = await _open(await anyio.to_thread.run_sync(argv, info_write), (control_fd, info_write))
        os.close(info_write)
        info_write = -1
        info = await _read_all(info_read)
    except BaseException:  # cancelled (the server closing as it starts) or failed: nobody else holds the process
        if process is not None:
            await _discard(process)
        raise
    finally:
        os.close(info_read)
        if info_write >= 0:
            os.close(info_write)
    try:
        return _wrap(process, int(json.loads(info)["child-pid"]))
    except (ValueError, KeyError, TypeError):
        return _wrap(process, process.pid)  # bwrap failed before starting the proxy: it exits with its reason


async def _discard(process: Process) -> None:
    """Kill a proxy that never became a ``ProxyProcess`` (its process group: bwrap and what it started), reap it
    and close its pipes, even while the caller is being cancelled (else the pipes are left to the garbage collector)."""
    with anyio.CancelScope(shield=True):
        for kill in (partial(os.killpg, process.pid), partial(os.kill, process.pid)):
            try:
                kill(signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        with anyio.move_on_after(STOP_GRACE):
            await process.aclose()


async def _open(argv: list[str], pass_fds: Sequence[int]) -> Process:
    return await anyio.open_process(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,
        env=jail.ENV,
        pass_fds=pass_fds,
        start_new_session=True,
    )


def _wrap(process: Process, pid: int) -> ProxyProcess:
    assert process.stdout is not None
    return ProxyProcess(process, pid, BufferedByteReceiveStream(process.stdout))

"""``EgressSupervisor``: keeps the egress proxy process running, and never lets anything wait on it for long.

It creates the control socket (``control.sock``, root's alone; ``control-<pid>.sock`` when another live
process of the same data dir, e.g. a second ``corral worker``, has that one) once and hands it to every proxy
process it starts (``jail``), so the path never changes and a request made while the proxy restarts waits in
its backlog.
A proxy that exits is started again at once; one that keeps exiting before it is ready is started again
after a pause that grows to ``MAX_PAUSE``. When a proxy is ready (it prints ``ready``), ``on_ready`` is called
with its generation: ``EgressClient.resync`` hands it every open channel.

``wait_ready`` is what requests wait on: at most ``start_timeout``, and not at all once the proxy has failed to
start ``FAILING_AFTER`` times in a row: a sandbox then gets an error naming the last exit within seconds.

Invariants: stopping (cancelling ``run``) always completes: SIGTERM, SIGKILL after ``STOP_GRACE`` seconds,
every wait shielded and bounded; the control socket is removed afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import Process, TaskGroup, TaskStatus
from anyio.streams.buffered import BufferedByteReceiveStream

from corral.egress import jail
from corral.egress.jail import ProxyArgs
from corral.egress.server import CONTROL
from corral.errors import ErrorCode, SandboxError

log = logging.getLogger("corral.egress")
FAILING_AFTER = 3
FIRST_PAUSE, MAX_PAUSE = 0.25, 5.0
STOP_GRACE = 3.0
STARTUP_LIMIT = 120.0
_READY = b"ready"


def not_running(detail: str) -> SandboxError:
    return SandboxError(f"sandbox: the egress proxy is not running ({detail})", code=ErrorCode.SANDBOX_PROVISION_FAILED)


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


def _answers(path: Path) -> bool:
    """Something listens on the unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _signal(pid: int | None, number: signal.Signals) -> None:
    if pid is not None:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


class EgressSupervisor:
    def __init__(
        self,
        socket_dir: Path,
        confdir: Path,
        *,
        allow_private: tuple[str, ...] = (),
        max_connections: int = 64,
        start_timeout: float = 30.0,
    ) -> None:
        self.socket_dir = socket_dir
        self.confdir = confdir
        self.allow_private = allow_private
        self.max_connections = max_connections
        self.start_timeout = start_timeout
        self.on_ready: Callable[[int], Coroutine[Any, Any, None]] | None = None
        self.generation = 0
        #: the proxy process (its host pid), while one is ready
        self.pid: int | None = None
        self.failures = 0
        self.last_exit = "not started yet"
        self._ready = False
        self._stopped = False
        self._changed = anyio.Event()
        self._control: socket.socket | None = None
        self.control_path = socket_dir / CONTROL

    @property
    def ready(self) -> bool:
        return self._ready

    def _set(self, *, ready: bool, pid: int | None = None) -> None:
        self._ready, self.pid = ready, pid
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_ready(self, after: int = 0) -> None:
        """Return once a proxy (of a generation newer than ``after``) serves; ``SandboxError`` if none is about to."""
        with anyio.move_on_after(self.start_timeout):
            while not (self._ready and self.generation > after):
                if self._stopped:
                    raise not_running("corral is shutting down")
                if self.failures >= FAILING_AFTER:
                    raise not_running(f"it failed to start {self.failures} times; last: {self.last_exit}")
                await self._changed.wait()
            return
        raise not_running(f"it did not start within {self.start_timeout:g} s; last: {self.last_exit}")

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start the proxy, restart it whenever it exits, until cancelled."""
        try:
            self._control = await anyio.to_thread.run_sync(self._listen)
        except OSError as exc:
            raise SandboxError(
                f"cannot create the egress control socket {self.control_path}: {exc}",
                code=ErrorCode.SANDBOX_PROVISION_FAILED,
            ) from exc
        try:
            async with anyio.create_task_group() as tasks:
                task_status.started()
                while True:
                    await self._run_once(tasks)
                    if self.failures > 1:
                        await anyio.sleep(min(FIRST_PAUSE * 2 ** (self.failures - 2), MAX_PAUSE))
        finally:
            self._stopped = True
            self._set(ready=False)
            self._remove_control()

    def _listen(self) -> socket.socket:
        self.socket_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.socket_dir.chmod(0o711)
        if _answers(self.control_path):
            self.control_path = self.socket_dir / f"control-{os.getpid()}.sock"
        self.control_path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.control_path))
        self.control_path.chmod(0o600)
        sock.listen(64)
        return sock

    def _remove_control(self) -> None:
        if self._control is not None:
            self._control.close()
        self.control_path.unlink(missing_ok=True)
        for directory in (self.socket_dir, self.socket_dir.parent):
            try:
                directory.rmdir()
            except OSError:
                break

    def _argv(self, info_fd: int | None) -> list[str]:
        assert self._control is not None
        parent = None if info_fd is not None else os.getpid()
        args = ProxyArgs(self._control.fileno(), self.confdir, self.allow_private, self.max_connections, parent)
        return jail.jailed_argv(args, info_fd) if info_fd is not None else args.argv()

    async def _spawn(self) -> tuple[Process, int]:
        """The started process and the pid of the proxy in it (bwrap's child when jailed)."""
        assert self._control is not None
        if not jail.privileged():  # no uid to drop: the proxy runs as this user, with its confdir as it is
            await anyio.to_thread.run_sync(partial(self.confdir.mkdir, mode=0o700, parents=True, exist_ok=True))
            argv = self._argv(None)
            process = await anyio.open_process(
                argv,
                stdin=subprocess.DEVNULL,
                stderr=None,
                env=jail.ENV,
                pass_fds=(self._control.fileno(),),
                start_new_session=True,
            )
            return process, process.pid
        await anyio.to_thread.run_sync(jail.prepare_confdir, self.confdir)
        info_read, info_write = os.pipe()
        try:
            argv = await anyio.to_thread.run_sync(self._argv, info_write)
            process = await anyio.open_process(
                argv,
                stdin=subprocess.DEVNULL,
                stderr=None,
                env=jail.ENV,
                pass_fds=(self._control.fileno(), info_write),
                start_new_session=True,
            )
            os.close(info_write)
            info_write = -1
            info = await _read_all(info_read)
        finally:
            os.close(info_read)
            if info_write >= 0:
                os.close(info_write)
        try:
            return process, int(json.loads(info)["child-pid"])
        except (ValueError, KeyError, TypeError):
            return process, process.pid  # bwrap failed before starting the proxy: it exits with its reason

    async def _run_once(self, tasks: TaskGroup) -> None:
        self.generation += 1
        try:
            process, pid = await self._spawn()
        except OSError as exc:
            self._exited(f"it could not be started: {exc}", was_ready=False)
            return
        was_ready = False
        try:
            assert process.stdout is not None
            lines = BufferedByteReceiveStream(process.stdout)
            with anyio.move_on_after(STARTUP_LIMIT):
                was_ready = await lines.receive_until(b"\n", 1024) == _READY
            if was_ready:
                self.failures = 0
                self._set(ready=True, pid=pid)
                log.info("egress proxy ready (pid %d, generation %d)", pid, self.generation)
                if self.on_ready is not None:
                    tasks.start_soon(self.on_ready, self.generation)
                async for _ in lines:  # nothing more is expected; drained so the proxy never blocks on it
                    pass
                await process.wait()
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.DelimiterNotFound, anyio.BrokenResourceError):
            pass  # it ended (or said something else) before it was ready: stopped below, whatever it does
        finally:
            self._set(ready=False)
            await _stop(process, pid)
        self._exited(f"exit status {process.returncode}", was_ready)

    def _exited(self, how: str, was_ready: bool) -> None:
        self.last_exit = how
        if not was_ready:
            self.failures += 1
        self._set(ready=False)  # waiters look again: this may have been one failure too many
        log.warning("egress proxy (generation %d) ended: %s; starting it again", self.generation, how)


async def _stop(process: Process, pid: int) -> None:
    """SIGTERM to the proxy, SIGKILL to it and its bwrap after ``STOP_GRACE``: always returns, soon."""
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            _signal(pid, signal.SIGTERM)
            with anyio.move_on_after(STOP_GRACE):
                await process.wait()
        if process.returncode is None:
            _signal(pid, signal.SIGKILL)
            _signal(process.pid, signal.SIGKILL)
            with anyio.move_on_after(STOP_GRACE):
                await process.wait()
        if process.returncode is None:
            log.error("egress proxy (pid %d) survived SIGKILL; leaving it", process.pid)
            if process.stdout is not None:
                await process.stdout.aclose()
        else:
            await process.aclose()  # its pipes and transport, before the event loop goes

"""``EgressSupervisor``: keeps the egress proxy process running, and never lets anything wait on it for long.

It creates the control socket (``control.sock``, root's alone; ``control-<pid>.sock`` when another live
process of the same data dir, e.g. a second ``corral worker``, has that one) once and hands it to every proxy
process it starts (``jail``), so the path never changes and a request made while the proxy restarts waits in
its backlog. Beside the proxy that serves, it keeps a second one warm in standby (``proxy_process``): when the
serving proxy exits, the warm one is promoted at once (milliseconds, not an interpreter's start-up), and
another is warmed. Without a warm one, a new proxy is started; one that keeps exiting before it is ready is
started again after a pause that grows to ``MAX_PAUSE``. When a proxy is ready, ``on_ready`` is called with
its generation: ``EgressClient.resync`` hands it every open channel.

``wait_ready`` is what requests wait on: at most ``start_timeout``, and not at all once the proxy has failed to
start ``FAILING_AFTER`` times in a row: a sandbox then gets an error naming the last exit within seconds.

Invariants: stopping (cancelling ``run``) always completes: every proxy gets SIGTERM, then SIGKILL after
``STOP_GRACE``, every wait shielded and bounded; the control socket is removed afterwards.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup, TaskStatus

from corral.egress import jail, proxy_process
from corral.egress.jail import ProxyArgs
from corral.egress.layout import CONTROL
from corral.egress.proxy_process import READY, STANDBY, ProxyProcess
from corral.errors import ErrorCode, SandboxError

log = logging.getLogger("corral.egress")
FAILING_AFTER = 3
FIRST_PAUSE, MAX_PAUSE = 0.25, 5.0
STARTUP_LIMIT = 120.0


def not_running(detail: str) -> SandboxError:
    return SandboxError(f"sandbox: the egress proxy is not running ({detail})", code=ErrorCode.SANDBOX_PROVISION_FAILED)


def _answers(path: Path) -> bool:
    """Something listens on the unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


class EgressSupervisor:
    def __init__(
        self,
        socket_dir: Path,
        confdir: Path,
        *,
        allow_private: tuple[str, ...] = (),
        max_connections: int = 64,
        start_timeout: float = 30.0,
        upstream_ca: Path | None = None,
    ) -> None:
        """``upstream_ca``: extra CA certificates the proxy trusts for intercepted upstreams (``ProxyArgs``)."""
        self.socket_dir = socket_dir
        self.confdir = confdir
        self.allow_private = allow_private
        self.max_connections = max_connections
        self.upstream_ca = upstream_ca
        self.start_timeout = start_timeout
        self.on_ready: Callable[[int], Coroutine[Any, Any, None]] | None = None
        self.generation = 0
        #: the proxy process (its host pid), while one is ready
        self.pid: int | None = None
        self.failures = 0
        self.last_exit = "not started yet"
        self._ready = False
        self._stopped = False
        self._spare: ProxyProcess | None = None
        self._warming = False
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
                    await self._serve_one(tasks)
                    if self.failures > 1:
                        await anyio.sleep(min(FIRST_PAUSE * 2 ** (self.failures - 2), MAX_PAUSE))
        finally:
            self._stopped = True
            self._set(ready=False)
            spare, self._spare = self._spare, None
            if spare is not None:
                await spare.stop()
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
        args = ProxyArgs(
            self._control.fileno(), self.confdir, self.allow_private, self.max_connections, parent, self.upstream_ca
        )
        return jail.jailed_argv(args, info_fd) if info_fd is not None else args.argv()

    async def _start(self) -> ProxyProcess:
        """A new proxy process, on its way to standby."""
        assert self._control is not None
        if jail.privileged():
            await anyio.to_thread.run_sync(jail.prepare_confdir, self.confdir)
        else:  # no uid to drop: the proxy runs as this user, with its confdir as it is
            await anyio.to_thread.run_sync(partial(self.confdir.mkdir, mode=0o700, parents=True, exist_ok=True))
        return await proxy_process.start(self._argv, self._control.fileno(), jail.privileged())

    async def _next(self) -> ProxyProcess | None:
        """The warm proxy if there is one, else a new one once in standby; None if that failed (recorded)."""
        spare, self._spare = self._spare, None
        if spare is not None and not spare.ended:
            return spare
        if spare is not None:
            await spare.stop()
        try:
            proxy = await self._start()
        except OSError as exc:
            self._exited(f"it could not be started: {exc}", was_ready=False)
            return None
        try:
            standby = await proxy.says(STANDBY, STARTUP_LIMIT)
        except BaseException:  # cancelled while it starts: it is nobody's yet
            await proxy.stop()
            raise
        if not standby:
            await proxy.stop()
            self._exited(f"it ended before it was ready (exit status {proxy.process.returncode})", was_ready=False)
            return None
        return proxy

    async def _serve_one(self, tasks: TaskGroup) -> None:
        self.generation += 1
        proxy = await self._next()
        if proxy is None:
            return
        ready = False
        try:
            ready = await proxy.promote() and await proxy.says(READY, STARTUP_LIMIT)
            if ready:
                self.failures = 0
                self._set(ready=True, pid=proxy.pid)
                log.info("egress proxy ready (pid %d, generation %d)", proxy.pid, self.generation)
                if self.on_ready is not None:
                    tasks.start_soon(self.on_ready, self.generation)
                tasks.start_soon(self._warm_spare)
                await proxy.run_out()
        finally:
            self._set(ready=False)
            await proxy.stop()
        self._exited(f"exit status {proxy.process.returncode}", ready)

    async def _warm_spare(self) -> None:
        """Keep one proxy in standby for the next restart (one at a time; a failure here is only logged)."""
        if self._warming or self._spare is not None:
            return
        self._warming = True
        proxy: ProxyProcess | None = None
        try:
            proxy = await self._start()
            if await proxy.says(STANDBY, STARTUP_LIMIT) and not self._stopped:
                self._spare, proxy = proxy, None
            else:
                log.warning("egress: a standby proxy ended before it was ready; the next restart starts one anew")
        except OSError as exc:
            log.warning("egress: could not warm a standby proxy: %s", exc)
        finally:
            self._warming = False
            if proxy is not None:
                await proxy.stop()

    def _exited(self, how: str, was_ready: bool) -> None:
        self.last_exit = how
        if not was_ready:
            self.failures += 1
        self._set(ready=False)  # waiters look again: this may have been one failure too many
        log.warning("egress proxy (generation %d) ended: %s; starting it again", self.generation, how)

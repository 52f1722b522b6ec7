"""``LocalSandboxProvider``: the embedded default provider, bubblewrap sandboxes on this machine.

One long-lived sandbox per session with the agent inside; the session's workspace and journal live outside
it (under the data dir) and outlive it. ``provision`` returns the session's live sandbox if there is one,
else a warm one from the environment's pool (sessions without a workspace yet), else a fresh one. Sandboxes
idle longer than ``idle_seconds`` are stopped; the workspace stays for the next one.

Invariants: each session's sandboxes run as that session's own host uid (its workspace's owner); every
sandbox this provider started is stopped by ``aclose`` (and by the kernel if this process dies: bwrap's
``--die-with-parent``); needs root, bubblewrap and cgroup v1 controllers, and says so when they are missing.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import shutil
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from corral.config import Settings
from corral.errors import ErrorCode, SandboxError
from corral.sandbox.base import ProvisionSpec, Sandbox, SandboxProvider, ToolResult
from corral.sandbox.journal import ToolJournal, safe_name
from corral.sandbox.local import cgroups as cgroup_control
from corral.sandbox.local.disk import Disk, UidAllocator
from corral.sandbox.local.layout import Layout
from corral.sandbox.local.packages import LayerStore
from corral.sandbox.local.pool import WarmPools
from corral.sandbox.local.sandbox import LocalSandbox
from corral.sandbox.local.starter import Starter
from corral.sandbox.network import EgressGateway

log = logging.getLogger("corral.sandbox.local")


@dataclass(frozen=True)
class LocalOptions:
    #: first host uid handed to sandboxes (each session gets its own, never reused)
    uid_base: int = 1_500_000_000
    #: largest size of the sparse btrfs image holding all workspaces (their sum cannot exceed it); the image
    #: is made no larger than half the disk space free when it is created, so sandboxes cannot fill the host
    disk_image_bytes: int = 64 * 1024**3
    #: per-workspace disk quotas on btrfs (False: plain directories)
    disk_quota: bool = True
    idle_seconds: float | None = None  # None: Settings.sandbox_idle_seconds
    startup_timeout: float = 20.0


def _requirements() -> None:
    if os.geteuid() != 0:
        raise SandboxError("the local sandbox provider must run as root", code=ErrorCode.SANDBOX_PROVISION_FAILED)
    if shutil.which("bwrap") is None:
        raise SandboxError("bubblewrap (bwrap) is not installed", code=ErrorCode.SANDBOX_PROVISION_FAILED)
    cgroup_control.check()


class LocalSandboxProvider(SandboxProvider):
    name = "local"

    def __init__(self, settings: Settings, egress: EgressGateway | None = None, *, options: LocalOptions | None = None):
        self.options = options or LocalOptions()
        self.idle_seconds = self.options.idle_seconds or settings.sandbox_idle_seconds
        self.layout = Layout(settings.data_dir)
        self.journal = ToolJournal(self.layout.journal)
        self.disk = Disk(
            self.layout.state, self.layout.fs, image_bytes=self.options.disk_image_bytes, quota=self.options.disk_quota
        )
        self.uids = UidAllocator(self.layout.state / "uids", self.options.uid_base)
        self.egress = egress if settings.egress_enabled else None
        self.owner = f"{secrets.token_hex(3)}-{os.getpid()}"
        self._names = itertools.count(1)
        self._live: dict[str, LocalSandbox] = {}
        self._provisioning: dict[str, anyio.Lock] = {}
        self._tasks: TaskGroup | None = None
        self._exit = AsyncExitStack()
        self.layers = LayerStore(self)
        self.starter = Starter(self)
        self.pools = WarmPools(self)

    @property
    def tasks(self) -> TaskGroup:
        if self._tasks is None:
            raise SandboxError(
                "the local sandbox provider is not running: use it inside `async with provider:`",
                code=ErrorCode.SANDBOX_PROVISION_FAILED,
            )
        return self._tasks

    def next_name(self) -> str:
        return f"sbx{next(self._names)}-{secrets.token_hex(4)}"

    async def __aenter__(self) -> LocalSandboxProvider:
        await anyio.to_thread.run_sync(self._open)
        self._exit.push_async_callback(anyio.to_thread.run_sync, self._close)
        self._tasks = await self._exit.enter_async_context(anyio.create_task_group())
        self._tasks.start_soon(self._reap_idle)
        return self

    def _open(self) -> None:
        _requirements()
        self.layout.prepare()
        cgroup_control.sweep_orphans()
        self.disk.open()

    def _close(self) -> None:
        self.disk.close()
        self.layout.release()
        cgroup_control.remove_owner(self.owner)

    async def aclose(self) -> None:
        if self._tasks is None:
            return
        with anyio.CancelScope(shield=True):
            await self.pools.aclose()
            for sandbox in list(self._live.values()):
                await sandbox.stop("corral is shutting down")
        self._tasks.cancel_scope.cancel()
        self._tasks = None
        await self._exit.aclose()

    async def provision(self, spec: ProvisionSpec) -> Sandbox:
        async with self._provisioning.setdefault(spec.session_id, anyio.Lock()):  # one sandbox per session
            live = self._live.get(spec.session_id)
            if live is not None and live.alive:
                live.claim(spec.session_id, spec)
                return live
            sandbox = await self.pools.claim(spec) or await self.starter.start(spec, spec.session_id)
            self._live[spec.session_id] = sandbox
        self.tasks.start_soon(self._forget_when_stopped, sandbox)
        return sandbox

    async def _forget_when_stopped(self, sandbox: LocalSandbox) -> None:
        await sandbox.stopped.wait()
        if self._live.get(sandbox.session_id) is sandbox:
            del self._live[sandbox.session_id]
            self._provisioning.pop(sandbox.session_id, None)

    async def prepare(self, spec: ProvisionSpec) -> None:
        await self.pools.prepare(spec)

    def warm_ready(self, spec: ProvisionSpec) -> int:
        """How many warm sandboxes are ready for sessions of ``spec``'s environment."""
        return self.pools.ready(spec)

    async def recorded(self, session_id: str, tool_use_id: str) -> ToolResult | None:
        return await self.journal.recorded(session_id, tool_use_id)

    async def forget(self, session_id: str) -> None:
        live = self._live.pop(session_id, None)
        if live is not None:
            await live.stop("its session was deleted")
        await anyio.to_thread.run_sync(self.disk.remove_workspace, safe_name(session_id))
        await self.journal.forget(session_id)

    def workspace_path(self, session_id: str) -> Path:
        """Host path of the session's workspace (it may not exist yet)."""
        return self.disk.workspaces / safe_name(session_id)

    async def _reap_idle(self) -> None:
        period = max(0.05, min(self.idle_seconds / 4, 30.0))
        while True:
            await anyio.sleep(period)
            for sandbox in list(self._live.values()):
                if sandbox.alive and sandbox.idle_for > self.idle_seconds:
                    self.tasks.start_soon(sandbox.stop, f"it was idle for more than {self.idle_seconds:g} s")
            await self.pools.reap_idle(self.idle_seconds)

"""``LocalSandboxProvider``: the embedded default provider, bubblewrap sandboxes on this machine.

One long-lived sandbox per session with the agent inside; the session's workspace and journal live outside
it (under the data dir) and outlive it. ``provision`` returns the session's live sandbox if there is one,
else a warm one from the environment's pool (sessions without a workspace yet), else a fresh one. Sandboxes
idle longer than ``idle_seconds`` are stopped; the workspace stays for the next one. Given a ``WorkspaceStore``,
workspaces follow their session across hosts (``follow``): saved when a turn ends (``checkpoint``) and when a
sandbox stops, restored before a sandbox is built on a host whose copy is missing or stale.

The parts: ``Host`` (``host``: paths, disk, uids, journal, egress), ``Starter`` (``starter``: assembles one
sandbox, builds package layers) and ``WarmPools`` (``pool``). They get the ``Host`` and callables (start a
sandbox, spawn a background task), never the provider; the provider alone tracks which sandbox is live for
which session.

A workspace (``spec.workspace_id``) runs at most ``CORRAL_MAX_SANDBOXES_PER_WORKSPACE`` live sandboxes of this
provider (``corral.sandbox.limits``): a session is counted from the moment its provisioning is admitted until its
sandbox stops (or the provisioning fails), so two sessions provisioning at once cannot both pass the limit.

Invariants: each session's sandboxes run as that session's own host uid (its workspace's owner); every
sandbox this provider started is stopped by ``aclose`` (and by the kernel if this process dies: bwrap's
``--die-with-parent``); needs root, bubblewrap and cgroup v1 controllers, and says so when they are missing.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from corral.config import Settings
from corral.errors import ErrorCode, SandboxError
from corral.sandbox import limits
from corral.sandbox.base import ProvisionNotice, ProvisionSpec, Sandbox, SandboxProvider, ToolResult
from corral.sandbox.local.follow import FollowingWorkspaces
from corral.sandbox.local.host import Host, LocalOptions
from corral.sandbox.local.pool import WarmPools
from corral.sandbox.local.sandbox import LocalSandbox
from corral.sandbox.local.starter import Starter
from corral.sandbox.local.workspace import Workspace
from corral.sandbox.network import EgressGateway
from corral.sandbox.workspaces import WorkspaceStore


class LocalSandboxProvider(SandboxProvider):
    name = "local"

    def __init__(
        self,
        settings: Settings,
        egress: EgressGateway | None = None,
        *,
        options: LocalOptions | None = None,
    ):
        options = options or LocalOptions()
        self.idle_seconds = options.idle_seconds or settings.sandbox_idle_seconds
        self.max_per_workspace = settings.max_sandboxes_per_workspace
        self.host = Host.create(settings, egress, options)
        #: None: workspaces stay on this host's disk only (a session must come back to this data directory)
        self.follow: FollowingWorkspaces | None = None
        self._live: dict[str, LocalSandbox] = {}
        #: the workspace of each session whose sandbox is being provisioned or live (its place in the count)
        self._admitted: dict[str, str] = {}
        #: sessions whose provisioning is admitted and not finished
        self._starting: set[str] = set()
        self._provisioning: dict[str, anyio.Lock] = {}
        self._tasks: TaskGroup | None = None
        self._exit = AsyncExitStack()
        self._starter = Starter(self.host, self._spawn)
        self._pools = WarmPools(self.host, self._starter.start, self._spawn)

    @property
    def tasks(self) -> TaskGroup:
        if self._tasks is None:
            raise SandboxError(
                "the local sandbox provider is not running: use it inside `async with provider:`",
                code=ErrorCode.SANDBOX_PROVISION_FAILED,
            )
        return self._tasks

    def _spawn(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.tasks.start_soon(job)

    def follow_workspaces(self, store: WorkspaceStore) -> None:
        self.follow = FollowingWorkspaces(self.host, store)

    async def __aenter__(self) -> LocalSandboxProvider:
        await anyio.to_thread.run_sync(self.host.open)
        self._exit.push_async_callback(anyio.to_thread.run_sync, self.host.close)
        self._tasks = await self._exit.enter_async_context(anyio.create_task_group())
        self._tasks.start_soon(self._reap_idle)
        return self

    async def aclose(self) -> None:
        if self._tasks is None:
            return
        with anyio.CancelScope(shield=True):
            await self._pools.aclose()
            for sandbox in list(self._live.values()):
                await sandbox.stop("corral is shutting down")
                if self.follow is not None:
                    await self.follow.save(sandbox.session_id)
        self._tasks.cancel_scope.cancel()
        self._tasks = None
        await self._exit.aclose()

    async def provision(self, spec: ProvisionSpec) -> Sandbox:
        async with self._provisioning.setdefault(spec.session_id, anyio.Lock()):  # one sandbox per session
            live = self._live.get(spec.session_id)
            if live is not None and live.alive:
                live.claim(spec.session_id, spec)
                return live
            self._admit(spec)
            try:
                notices = await self._bring_workspace(spec)
                sandbox = await self._pools.claim(spec) or await self._start(spec)
            except BaseException:
                self._admitted.pop(spec.session_id, None)
                raise
            finally:
                self._starting.discard(spec.session_id)
            sandbox.notices = (*sandbox.notices, *notices)
            self._live[spec.session_id] = sandbox
        self.tasks.start_soon(self._forget_when_stopped, sandbox)
        return sandbox

    def _admit(self, spec: ProvisionSpec) -> None:
        """Count the session against its workspace's limit, or refuse it (no await: the check and the count are one
        step, whatever else provisions at the same time)."""
        running = sum(
            1
            for session_id, workspace_id in self._admitted.items()
            if workspace_id == spec.workspace_id and session_id != spec.session_id and self._holds(session_id)
        )
        limits.check(spec.workspace_id, running, self.max_per_workspace)
        self._admitted[spec.session_id] = spec.workspace_id
        self._starting.add(spec.session_id)

    def _holds(self, session_id: str) -> bool:
        """The session's sandbox is being provisioned or is alive (a stopped one is not counted, even before
        ``_forget_when_stopped`` has run)."""
        live = self._live.get(session_id)
        return session_id in self._starting or (live is not None and live.alive)

    async def _bring_workspace(self, spec: ProvisionSpec) -> tuple[ProvisionNotice, ...]:
        """The session's workspace on this host, restored from its latest snapshot if it is missing or stale."""
        if self.follow is not None:
            return await self.follow.bring(spec)
        if spec.workspace_expected and not await self._has_workspace(spec.session_id):
            raise SandboxError(
                "this session's workspace is not on this machine: an earlier turn ran on a worker with another"
                " data directory (CORRAL_DATA_DIR); workers of one deployment must share it, or a blob store"
                " must hold workspace snapshots",
                code=ErrorCode.WORKSPACE_MISSING,
            )
        return ()

    async def checkpoint(self, session_id: str) -> list[ProvisionNotice]:
        if self.follow is None:
            return []
        notice = await self.follow.save(session_id)
        return [] if notice is None else [notice]

    async def _has_workspace(self, session_id: str) -> bool:
        key = Workspace.of_session(session_id).key
        return await anyio.to_thread.run_sync(self.host.disk.owner, key) is not None

    async def _start(self, spec: ProvisionSpec) -> LocalSandbox:
        return await self._starter.start(spec, spec.session_id, Workspace.of_session(spec.session_id))

    async def _forget_when_stopped(self, sandbox: LocalSandbox) -> None:
        await sandbox.stopped.wait()
        if self._live.get(sandbox.session_id) is sandbox:
            del self._live[sandbox.session_id]
            self._admitted.pop(sandbox.session_id, None)
            self._provisioning.pop(sandbox.session_id, None)
        if self.follow is not None and sandbox.session_id:
            with anyio.CancelScope(shield=True):  # ``aclose`` cancels this task: it waits for the save instead
                await self.follow.save(sandbox.session_id)  # its session's next sandbox may be on another host

    async def prepare(self, spec: ProvisionSpec) -> None:
        """Build the environment's package layer, then fill its warm pool (if it asks for one)."""
        await self._starter.prepare_layer(spec)
        await self._pools.prepare(spec)

    def warm_ready(self, spec: ProvisionSpec) -> int:
        """How many warm sandboxes are ready for sessions of ``spec``'s environment."""
        return self._pools.ready(spec)

    async def recorded(self, session_id: str, tool_use_id: str) -> ToolResult | None:
        return await self.host.journal.recorded(session_id, tool_use_id)

    async def forget(self, session_id: str) -> None:
        live = self._live.pop(session_id, None)
        self._admitted.pop(session_id, None)
        if live is not None:
            await live.stop("its session was deleted")
        await anyio.to_thread.run_sync(self.host.disk.remove_workspace, Workspace.of_session(session_id).key)
        await self.host.journal.forget(session_id)
        if self.follow is not None:
            await self.follow.forget(session_id)

    def mount_root(self) -> Path:
        return self.host.disk.attach

    async def kept_sessions(self) -> list[str]:
        return await anyio.to_thread.run_sync(self.host.disk.session_workspaces)

    def workspace_path(self, session_id: str) -> Path:
        """Host path of the session's workspace (it may not exist yet)."""
        return self.host.disk.workspaces / Workspace.of_session(session_id).key

    async def _reap_idle(self) -> None:
        period = max(0.05, min(self.idle_seconds / 4, 30.0))
        while True:
            await anyio.sleep(period)
            for sandbox in list(self._live.values()):
                if sandbox.alive and sandbox.idle_for > self.idle_seconds:
                    self.tasks.start_soon(sandbox.stop, f"it was idle for more than {self.idle_seconds:g} s")
            await self._pools.reap_idle(self.idle_seconds)

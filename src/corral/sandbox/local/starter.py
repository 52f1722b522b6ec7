"""Assembling one local sandbox from a ``ProvisionSpec``: workspace and uid, package layer, egress channel,
read-only file mounts (copied, unless they live under the mount root), cgroups, then the process and the agent
handshake.

The starter owns the package layers (a layer is built by a sandbox it starts) and names its sandboxes; it
gets the ``Host`` and a ``Spawn`` for each sandbox's background task, nothing of the provider.

Invariants: a start either returns a running, handshaken ``LocalSandbox`` whose background task is running,
or raises ``SandboxError`` (``sandbox_provision_failed``) after undoing everything it had set up; a
``SANDBOX``-lifetime workspace is removed when its sandbox stops unless a session claimed it by then.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.abc import ByteReceiveStream

from corral.sandbox.base import ProvisionSpec
from corral.sandbox.local.channel import AgentChannel
from corral.sandbox.local.host import Host, Spawn
from corral.sandbox.local.launch import Plan, abandon, agent_config, failed, spawn
from corral.sandbox.local.packages import LayerBuild, LayerStore
from corral.sandbox.local.sandbox import LocalSandbox, Parts
from corral.sandbox.local.workspace import Lifetime, Workspace
from corral.sandbox.network import EgressChannel

#: longest reply line accepted from an agent (a 20 MiB PDF is ~27 MiB of base64)
MAX_REPLY_BYTES = 32 * 1024 * 1024
_NO_NETWORK = frozenset({"none", "disabled"})


def _checked_target(target: str) -> str:
    if not target.startswith("/") or ".." in target.split("/") or "\x00" in target:
        raise failed(f"mounts: {target!r} is not an absolute mount path")
    if target.rstrip("/") in ("", "/workspace"):
        raise failed(f"mounts: {target!r} cannot be mounted over")
    return target


def _mount_files(spec: ProvisionSpec, directory: Path, root: Path) -> tuple[tuple[str, str], ...]:
    """Mounted files as (source, mount path) pairs: one under ``root`` (the provider's ``mount_root``, reachable
    by bwrap) as it is, any other copied into ``directory`` first."""
    pairs: list[tuple[str, str]] = []
    for index, mount in enumerate(m for m in spec.mounts if not os.path.isdir(m.source)):
        target = _checked_target(mount.target)
        if not mount.read_only or not os.path.isfile(mount.source):
            raise failed(f"mounts: {target}: the source is not a file to mount read-only")
        if Path(os.path.realpath(mount.source)).is_relative_to(root):
            pairs.append((mount.source, target))  # read-only bind: no copy, whatever its size
            continue
        directory.mkdir(mode=0o711, parents=True, exist_ok=True)
        copy = directory / str(index)
        shutil.copyfile(mount.source, copy)
        copy.chmod(0o444)
        pairs.append((str(copy), target))
    return tuple(pairs)


def _mount_dirs(spec: ProvisionSpec, uid: int, root: Path) -> tuple[tuple[str, str, bool], ...]:
    """Directory mounts as (source, target, read-only); a writable one is handed to the sandbox's ``uid``. Their
    sources must live under ``root`` (the provider's ``mount_root``), which the sandbox's uid can reach."""
    found: list[tuple[str, str, bool]] = []
    for mount in spec.mounts:
        if not os.path.isdir(mount.source):
            continue
        if not Path(os.path.realpath(mount.source)).is_relative_to(root):
            raise failed(f"mounts: {mount.target}: its source directory is not under {root}")
        if not mount.read_only:
            _own(mount.source, uid)
        found.append((mount.source, _checked_target(mount.target), mount.read_only))
    return tuple(found)


def _own(directory: str, uid: int) -> None:
    """Give a writable mount's tree to ``uid`` (no symlinks followed: the tree may hold the sandbox's links)."""
    os.chown(directory, uid, uid, follow_symlinks=False)
    for root, names, files in os.walk(directory):
        for name in (*names, *files):
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


class Starter:
    def __init__(self, host: Host, spawn_task: Spawn) -> None:
        self.host = host
        self._spawn_task = spawn_task
        self._names = itertools.count(1)
        self._layers = LayerStore(host, self.start)

    async def prepare_layer(self, spec: ProvisionSpec) -> None:
        """Build the package layer ``spec`` asks for now (a no-op when it exists), so that no session's first
        tool call waits for it. Raises ``SandboxError`` if the build fails."""
        await self._layers.layer(spec)

    async def start(
        self, spec: ProvisionSpec, session_id: str, workspace: Workspace, build: LayerBuild | None = None
    ) -> LocalSandbox:
        """A sandbox for ``session_id`` ("": none yet) on ``workspace``; ``build``: it builds that package layer."""
        name = f"sbx{next(self._names)}-{secrets.token_hex(4)}"
        async with AsyncExitStack() as undo:
            parts = await self._assemble(spec, session_id, workspace, build, name, undo)
            parts.cleanup = undo.pop_all().aclose
        sandbox = LocalSandbox(session_id, spec, parts, self.host.journal)
        self._spawn_task(sandbox.run)
        return sandbox

    async def _assemble(
        self,
        spec: ProvisionSpec,
        session_id: str,
        workspace: Workspace,
        build: LayerBuild | None,
        name: str,
        undo: AsyncExitStack,
    ) -> Parts:
        undo.push_async_callback(self._discard, workspace)
        # a warm sandbox's workspace joins its tenant's disk group when a session claims it (``WarmPools.claim``)
        tenant = spec.workspace_id if workspace.lifetime is Lifetime.SESSION else ""
        uid, path = await anyio.to_thread.run_sync(self._workspace, workspace.key, spec.limits.disk_bytes, tenant)
        layer = build.layer if build is not None else await self._layers.layer(spec)
        egress = await self._egress(spec, session_id, name, uid, undo)
        files: tuple[tuple[str, str], ...] = ()
        dirs: tuple[tuple[str, str, bool], ...] = ()
        if spec.mounts:
            files_dir = self.host.disk.mount / "files" / name
            undo.push_async_callback(anyio.to_thread.run_sync, shutil.rmtree, files_dir, True)
            files = await anyio.to_thread.run_sync(_mount_files, spec, files_dir, self.host.disk.attach)
            dirs = await anyio.to_thread.run_sync(_mount_dirs, spec, uid, self.host.disk.attach)
        host_paths = build.host_paths if build is not None else ()
        socket, env, ca_bundle = (egress.socket_path, egress.env, egress.ca_bundle) if egress else (None, (), None)
        plan = Plan(
            name, uid, path, spec.limits, socket, layer, files, dirs, build is not None, host_paths, env, ca_bundle
        )
        cgroups = self.host.cgroups(name)
        undo.push_async_callback(cgroups.remove)
        await anyio.to_thread.run_sync(cgroups.create, spec.limits)
        process = await spawn(self.host.layout, plan, cgroups)
        undo.push_async_callback(abandon, process)  # killed, reaped and its pipes closed, even when cancelled
        assert process.stdin is not None and process.stdout is not None
        channel = AgentChannel(process.stdin, process.stdout, MAX_REPLY_BYTES)
        await self._handshake(channel, plan, process.stderr)
        notices = egress.notices if egress is not None else ()
        return Parts(plan, process, channel, cgroups, workspace, cleanup=_nothing, notices=notices)

    def _workspace(self, key: str, quota: int, tenant: str) -> tuple[int, Path]:
        disk = self.host.disk
        uid = disk.owner(key)
        if uid is None:
            uid = self.host.uids.allocate()
            disk.create_workspace(key, uid, quota, tenant)
        return uid, disk.workspaces / key

    async def _discard(self, workspace: Workspace) -> None:
        """When the sandbox is gone: remove its workspace if it still belongs to no session."""
        if workspace.lifetime is Lifetime.SANDBOX:
            await anyio.to_thread.run_sync(self.host.disk.remove_workspace, workspace.key)

    async def _egress(
        self, spec: ProvisionSpec, session_id: str, name: str, uid: int, undo: AsyncExitStack
    ) -> EgressChannel | None:
        gateway = self.host.egress
        if gateway is None or spec.networking.get("type") in _NO_NETWORK:
            return None
        opened = await gateway.open(name, spec.networking, session_id or None)
        undo.push_async_callback(gateway.close, name)
        await anyio.to_thread.run_sync(os.chown, opened.socket_path, uid, uid)
        return opened

    async def _handshake(self, channel: AgentChannel, plan: Plan, stderr: ByteReceiveStream | None) -> None:
        try:
            with anyio.fail_after(self.host.startup_timeout):
                await channel.send(agent_config(plan))
                hello = await channel.receive()
        except Exception as exc:
            detail = await _stderr_text(stderr)
            raise failed(f"the sandbox did not start: {detail or type(exc).__name__}") from exc
        if hello.get("ready") is not True:
            raise failed("the sandbox agent did not report ready")


async def _nothing() -> None:
    return None


async def _stderr_text(stream: ByteReceiveStream | None) -> str:
    if stream is None:
        return ""
    chunks: list[bytes] = []
    with anyio.move_on_after(0.5):
        try:
            while True:
                chunks.append(await stream.receive())
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
    return b"".join(chunks).decode(errors="replace").strip()[-1000:]

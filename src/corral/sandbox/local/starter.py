"""Assembling one local sandbox from a ``ProvisionSpec``: workspace and uid, package layer, egress channel,
read-only file mounts, cgroups, then the process and the agent handshake.

Invariant: a start either returns a running, handshaken ``LocalSandbox`` whose background task is running,
or raises ``SandboxError`` (``sandbox_provision_failed``) after undoing everything it had set up.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from anyio.abc import ByteReceiveStream

from corral.errors import ErrorCode, SandboxError
from corral.sandbox.base import ProvisionSpec
from corral.sandbox.journal import safe_name
from corral.sandbox.local.cgroups import Cgroups
from corral.sandbox.local.channel import AgentChannel
from corral.sandbox.local.launch import Plan, agent_config, spawn
from corral.sandbox.local.sandbox import LocalSandbox, Parts

if TYPE_CHECKING:
    from corral.sandbox.local.provider import LocalSandboxProvider

#: longest reply line accepted from an agent (a 20 MiB PDF is ~27 MiB of base64)
MAX_REPLY_BYTES = 32 * 1024 * 1024
_NO_NETWORK = frozenset({"none", "disabled"})


@dataclass(frozen=True)
class Variant:
    """How a sandbox differs from a session's ordinary one."""

    #: workspace directory name (default: the session's); a ``pool-`` workspace is removed with its sandbox
    workspace_key: str | None = None
    #: build this package layer (mounted writable) instead of mounting the environment's
    build_layer: Path | None = None
    host_paths: tuple[str, ...] = ()


def failed(message: str) -> SandboxError:
    return SandboxError(f"sandbox: {message}", code=ErrorCode.SANDBOX_PROVISION_FAILED)


def _mount_files(spec: ProvisionSpec, directory: Path) -> tuple[tuple[str, str], ...]:
    """Copy each ``files`` source into ``directory`` (reachable by bwrap) → (copy, mount path) pairs."""
    pairs: list[tuple[str, str]] = []
    for index, entry in enumerate(spec.files):
        source, target = str(entry.get("source", "")), str(entry.get("mount_path", ""))
        if not target.startswith("/") or ".." in target.split("/") or target.rstrip("/") in ("", "/workspace"):
            raise failed(f"files: {target!r} is not an absolute mount path")
        if not os.path.isfile(source):
            raise failed(f"files: {target}: the source file is missing")
        directory.mkdir(mode=0o711, parents=True, exist_ok=True)
        copy = directory / str(index)
        shutil.copyfile(source, copy)
        copy.chmod(0o444)
        pairs.append((str(copy), target))
    return tuple(pairs)


class Starter:
    def __init__(self, provider: LocalSandboxProvider) -> None:
        self.provider = provider

    async def start(self, spec: ProvisionSpec, session_id: str, variant: Variant | None = None) -> LocalSandbox:
        variant = variant or Variant()
        name = self.provider.next_name()
        async with AsyncExitStack() as undo:
            parts = await self._assemble(spec, session_id, variant, name, undo)
            parts.cleanup = undo.pop_all().aclose
        sandbox = LocalSandbox(session_id, spec, parts, self.provider.journal)
        self.provider.tasks.start_soon(sandbox.run)
        return sandbox

    async def _assemble(
        self, spec: ProvisionSpec, session_id: str, variant: Variant, name: str, undo: AsyncExitStack
    ) -> Parts:
        provider = self.provider
        key = variant.workspace_key or safe_name(session_id)
        if key.startswith("pool-"):
            undo.push_async_callback(anyio.to_thread.run_sync, provider.disk.remove_workspace, key)
        uid, workspace = await anyio.to_thread.run_sync(self._workspace, key, spec.limits.disk_bytes)
        layer = variant.build_layer or await provider.layers.layer(spec)
        socket = await self._egress(spec, session_id, name, uid, undo)
        files: tuple[tuple[str, str], ...] = ()
        if spec.files:
            files_dir = provider.disk.mount / "files" / name
            undo.push_async_callback(anyio.to_thread.run_sync, shutil.rmtree, files_dir, True)
            files = await anyio.to_thread.run_sync(_mount_files, spec, files_dir)
        writable = variant.build_layer is not None
        plan = Plan(name, uid, workspace, spec.limits, socket, layer, files, writable, variant.host_paths)
        cgroups = Cgroups(provider.owner, name)
        undo.push_async_callback(cgroups.remove)
        await anyio.to_thread.run_sync(cgroups.create, spec.limits)
        process = await spawn(provider.layout, plan, cgroups)
        undo.push_async_callback(process.aclose)  # its pipes, once reaped (callbacks run last-in, first-out)
        undo.push_async_callback(_reap, process.kill, process.wait)
        assert process.stdin is not None and process.stdout is not None
        channel = AgentChannel(process.stdin, process.stdout, MAX_REPLY_BYTES)
        await self._handshake(channel, plan, process.stderr)
        return Parts(plan=plan, process=process, channel=channel, cgroups=cgroups, cleanup=_nothing)

    def _workspace(self, key: str, quota: int) -> tuple[int, Path]:
        disk = self.provider.disk
        uid = disk.owner(key)
        if uid is None:
            uid = self.provider.uids.allocate()
            disk.create_workspace(key, uid, quota)
        return uid, disk.workspaces / key

    async def _egress(
        self, spec: ProvisionSpec, session_id: str, name: str, uid: int, undo: AsyncExitStack
    ) -> str | None:
        gateway = self.provider.egress
        if gateway is None or spec.networking.get("type") in _NO_NETWORK:
            return None
        opened = await gateway.open(name, spec.networking, session_id or None)
        undo.push_async_callback(gateway.close, name)
        await anyio.to_thread.run_sync(os.chown, opened.socket_path, uid, uid)
        return opened.socket_path

    async def _handshake(self, channel: AgentChannel, plan: Plan, stderr: ByteReceiveStream | None) -> None:
        try:
            with anyio.fail_after(self.provider.options.startup_timeout):
                await channel.send(agent_config(plan))
                hello = await channel.receive()
        except Exception as exc:
            detail = await _stderr_text(stderr)
            raise failed(f"the sandbox did not start: {detail or type(exc).__name__}") from exc
        if hello.get("ready") is not True:
            raise failed("the sandbox agent did not report ready")


async def _nothing() -> None:
    return None


async def _reap(kill: Callable[[], None], wait: Callable[[], Awaitable[int]]) -> None:
    try:
        kill()
    except ProcessLookupError:
        pass
    with anyio.move_on_after(5, shield=True):
        await wait()


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

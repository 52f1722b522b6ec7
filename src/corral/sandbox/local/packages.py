"""Environment packages (``config.packages``): installed once per environment into a layer, then mounted
read-only at ``/opt/packages`` in every sandbox of that environment.

A layer is built ahead of use (``prepare``: the pool keeper asks for every environment with packages) or at
first use, *inside a sandbox* (package install scripts are untrusted code), with the layer
directory mounted writable and the network going through the egress proxy under the environment's own
``networking`` policy, so ``limited`` environments need ``allow_package_managers``. Managers run in the
documented order: ``apt`` (``.deb`` files downloaded and unpacked, no maintainer scripts), ``npm``
(``npm install --prefix``), ``pip`` (``pip install --target``, pip taken from a wheel on this machine).

Invariants: a layer is keyed by environment and package lists, so editing the list builds a new layer; a
layer is used only once complete (``.ready``), and is owned by root and read-only afterwards; a failed build
is a ``SandboxError`` naming the manager and the tail of its output; a build sandbox has a workspace of its
own, removed with it, and its journal is dropped afterwards; a build that failed is answered with the same
failure for ``FAILED_BUILD_MEMORY_SECONDS`` instead of being run again for every call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shlex
import shutil
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeAlias

import anyio
import anyio.to_thread

from corral.errors import SandboxError
from corral.sandbox.base import ProvisionSpec
from corral.sandbox.journal import safe_name
from corral.sandbox.local.host import Host
from corral.sandbox.local.launch import failed
from corral.sandbox.local.sandbox import LocalSandbox
from corral.sandbox.local.workspace import Lifetime, Workspace
from corral.vocab.tools import BASH

SUPPORTED = ("apt", "npm", "pip")
UNSUPPORTED = ("cargo", "gem", "go")
BUILD_SECONDS = 900.0
BUILD_MEMORY = 2 * 1024**3
APT_HOST_PATHS = ("/etc/apt", "/var/lib/dpkg", "/usr/share/keyrings")
_APT = (
    "-o Debug::NoLocking=1 -o Dir::Cache=/tmp/apt -o Dir::State::Lists=/tmp/apt/lists "
    "-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Dir::Log=/tmp/apt"
)


@dataclass(frozen=True)
class LayerBuild:
    """A sandbox that builds a package layer: the layer is mounted writable, ``host_paths`` read-only."""

    layer: Path
    host_paths: tuple[str, ...] = ()


#: how the store starts a build sandbox: ``(spec, session_id, workspace, build)`` (``Starter.start``)
StartBuild: TypeAlias = Callable[[ProvisionSpec, str, Workspace, LayerBuild], Awaitable[LocalSandbox]]


def _lists(packages: Mapping[str, Any]) -> dict[str, list[str]]:
    def names(manager: str) -> list[str]:
        listed: Iterable[object] = packages.get(manager) or []
        return [str(p) for p in listed]

    return {manager: names(manager) for manager in (*SUPPORTED, *UNSUPPORTED)}


def install_script(lists: dict[str, list[str]]) -> str:
    steps = ["set -e", "umask 022"]
    if apt := lists["apt"]:
        names = " ".join(shlex.quote(p) for p in apt)
        steps += [
            "mkdir -p /tmp/apt/lists/partial /tmp/apt/archives/partial /opt/packages/apt",
            f"apt-get {_APT} -qq update",
            f"apt-get {_APT} -qq -y --no-install-recommends --download-only install {names}",
            'for deb in /tmp/apt/archives/*.deb; do dpkg-deb -x "$deb" /opt/packages/apt; done',
        ]
    if npm := lists["npm"]:
        names = " ".join(shlex.quote(p) for p in npm)
        steps += [f"npm install --prefix /opt/packages/npm --no-audit --no-fund --cache /tmp/npm {names}"]
    if pip := lists["pip"]:
        names = " ".join(shlex.quote(p) for p in pip)
        steps += [
            "python3 /opt/corral/pip.whl/pip install --quiet --disable-pip-version-check --no-cache-dir "
            f"--target /opt/packages/pip {names}"
        ]
    return "\n".join(steps)


def _seal(layer: Path) -> None:
    """Root owns the finished layer; nobody writes it again."""
    for root, dirs, files in os.walk(layer):
        for name in [*dirs, *files]:
            path = os.path.join(root, name)
            os.lchown(path, 0, 0)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode & 0o755 | 0o444)
    os.chown(layer, 0, 0)
    layer.chmod(0o755)
    (layer / ".ready").touch()


#: how long a failed build is answered from memory before it is tried again (a registry may come back)
FAILED_BUILD_MEMORY_SECONDS = 600.0


class LayerStore:
    def __init__(self, host: Host, start: StartBuild) -> None:
        self.host = host
        self._start = start
        self._locks: dict[str, anyio.Lock] = {}
        #: layer name → (when, the failure): a build that failed is not run again for every call
        self._failed: dict[str, tuple[float, SandboxError]] = {}

    async def layer(self, spec: ProvisionSpec) -> Path | None:
        lists = _lists(spec.packages)
        if not any(lists.values()):
            return None
        if bad := [m for m in UNSUPPORTED if lists[m]]:
            raise failed(f"packages: {', '.join(bad)} packages are not supported by the local sandbox provider")
        digest = hashlib.sha256(json.dumps(lists, sort_keys=True).encode()).hexdigest()[:16]
        path = self.host.disk.layers / f"{safe_name(spec.environment_id)}-{digest}"
        async with self._locks.setdefault(path.name, anyio.Lock()):
            if not await anyio.to_thread.run_sync((path / ".ready").exists):
                self._raise_recent_failure(path.name)
                try:
                    await self._build(spec, path, lists)
                except SandboxError as exc:
                    self._failed[path.name] = (anyio.current_time(), exc)
                    raise
        return path

    def _raise_recent_failure(self, name: str) -> None:
        failure = self._failed.get(name)
        if failure is not None and anyio.current_time() - failure[0] < FAILED_BUILD_MEMORY_SECONDS:
            raise failure[1]
        self._failed.pop(name, None)

    async def _build(self, spec: ProvisionSpec, path: Path, lists: dict[str, list[str]]) -> None:
        await anyio.to_thread.run_sync(shutil.rmtree, path, True)
        await anyio.to_thread.run_sync(partial(path.mkdir, mode=0o755))
        memory = max(spec.limits.memory_bytes, BUILD_MEMORY)
        limits = dataclasses.replace(spec.limits, wall_seconds=BUILD_SECONDS, memory_bytes=memory)
        builder = ProvisionSpec(f"build-{path.name}", spec.environment_id, spec.networking, {}, limits=limits)
        workspace = Workspace(f"build-{path.name}", Lifetime.SANDBOX)
        build = LayerBuild(path, APT_HOST_PATHS)
        sandbox = await self._start(builder, builder.session_id, workspace, build)
        await anyio.to_thread.run_sync(os.chown, path, sandbox.parts.plan.uid, sandbox.parts.plan.uid)
        command = {"command": install_script(lists), "timeout_ms": int(BUILD_SECONDS * 1000)}
        try:
            result = await sandbox.execute(BASH, command, "install")
        finally:
            await sandbox.stop("the package layer is built")
            await self.host.journal.forget(builder.session_id)
        if result.is_error:
            output = " ".join(str(block.get("text", "")) for block in result.content)[-1500:]
            raise failed(f"packages: installing {', '.join(m for m in SUPPORTED if lists[m])} failed: {output}")
        await anyio.to_thread.run_sync(_seal, path)

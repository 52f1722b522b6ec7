"""The host the local sandboxes run on, as one value handed down to every part of the provider.

``Host`` holds what the parts share: where files live (``Layout``), the workspace filesystem (``Disk``), the
uid allocator, the tool journal, the egress gateway, the name under which this process owns cgroups, and the
start-up timeout. Parts get the ``Host`` and, for what only the provider can do, callables (``Spawn`` starts
a background task in the provider's task group); no part holds the provider.

Invariants: a ``Host`` is built once per provider and never changes; ``open`` runs (and checks root,
bubblewrap and cgroup v1) before any sandbox starts, ``close`` after the last one stopped; both block.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from corral.config import Settings
from corral.errors import ErrorCode, SandboxError
from corral.sandbox.journal import ToolJournal
from corral.sandbox.local import cgroups as cgroup_control
from corral.sandbox.local.cgroups import Cgroups
from corral.sandbox.local.disk import Disk, UidAllocator
from corral.sandbox.local.layout import Layout
from corral.sandbox.network import EgressGateway

#: start a background task in the provider's task group (raises ``SandboxError`` when the provider is not running)
Spawn: TypeAlias = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]


@dataclass(frozen=True)
class LocalOptions:
    #: first host uid handed to sandboxes (each session gets its own, never reused)
    uid_base: int = 1_500_000_000
    #: the host-wide counter of sandbox uids, shared by every corral instance on the host
    uid_registry: Path = Path("/var/lib/corral/sandbox-uids")
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


@dataclass(frozen=True)
class Host:
    layout: Layout
    disk: Disk
    uids: UidAllocator
    journal: ToolJournal
    #: None: sandboxes get no network
    egress: EgressGateway | None
    #: this process's directory in every cgroup controller (``<random>-<pid>``: leftovers of a dead one are swept)
    cgroup_owner: str
    startup_timeout: float

    @classmethod
    def create(cls, settings: Settings, egress: EgressGateway | None, options: LocalOptions) -> Host:
        layout = Layout(settings.data_dir)
        return cls(
            layout=layout,
            disk=Disk(
                layout.state,
                layout.fs,
                image_bytes=options.disk_image_bytes,
                quota=options.disk_quota,
                workspace_bytes=settings.workspace_disk_bytes,
            ),
            uids=UidAllocator(options.uid_registry, options.uid_base, local=layout.state / "uids"),
            journal=ToolJournal(layout.journal),
            egress=egress if settings.egress_enabled else None,
            cgroup_owner=f"{secrets.token_hex(3)}-{os.getpid()}",
            startup_timeout=options.startup_timeout,
        )

    def cgroups(self, name: str) -> Cgroups:
        """The (not yet created) cgroups of sandbox ``name``."""
        return Cgroups(self.cgroup_owner, name)

    def open(self) -> None:
        _requirements()
        self.layout.prepare()
        cgroup_control.sweep_orphans()
        self.disk.open()

    def close(self) -> None:
        self.disk.close()
        self.layout.release()
        cgroup_control.remove_owner(self.cgroup_owner)

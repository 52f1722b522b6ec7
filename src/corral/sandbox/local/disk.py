"""The filesystem that holds session workspaces, with a disk quota per workspace.

Preferred: a btrfs filesystem in a sparse image file under the data dir, loop-mounted at the runtime
directory; each workspace is a subvolume with a qgroup limit, so a sandbox that fills its disk gets
``EDQUOT`` while the host and the other sessions keep their space. (This kernel has no ext4 quota support;
btrfs qgroups need nothing but the filesystem.) Fallback when btrfs is unavailable: plain directories,
bind-mounted at the same place, *without* a quota (``quota_enforced`` is False and a warning is logged).

Invariants: a workspace is a directory owned by its session's host uid, mode 0700; the filesystem is
mounted ``nodev,nosuid``; sandboxes cannot create subvolumes (the seccomp filter refuses btrfs ioctls), so
a quota cannot be escaped by nesting.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
import struct
import subprocess
from pathlib import Path
from typing import IO

log = logging.getLogger("corral.sandbox.local")

SESSION_KEY_PREFIX = "sesn_"  # session ids are plain file names, so a session's workspace key is its id
_SUBVOL_CREATE = 0x5000940E  # _IOW(0x94, 14, struct btrfs_ioctl_vol_args)
_SNAP_DESTROY = 0x5000940F  # _IOW(0x94, 15, struct btrfs_ioctl_vol_args)
_QGROUP_LIMIT = 0x8030942B  # _IOR(0x94, 43, struct btrfs_ioctl_qgroup_limit_args)
_LIMIT_MAX_RFER = 1
_BTRFS_MAGIC_OFFSET, _BTRFS_MAGIC = 0x10040, b"_BHRfS_M"
_MIN_IMAGE = 1024**3


def _vol_args(name: str) -> bytearray:
    """``struct btrfs_ioctl_vol_args`` (4 KiB; mutable, since ``fcntl.ioctl`` copies at most 1 KiB of bytes)."""
    encoded = name.encode()
    return bytearray(struct.pack("q", 0) + encoded + b"\0" * (4088 - len(encoded)))


def mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4].replace("\\040", " ") == target for line in f)


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def _is_btrfs(image: Path) -> bool:
    with image.open("rb") as f:
        f.seek(_BTRFS_MAGIC_OFFSET)
        return f.read(len(_BTRFS_MAGIC)) == _BTRFS_MAGIC


class Disk:
    """Workspaces under ``<mount>/ws/<key>``, package layers under ``<mount>/layers/<key>``."""

    def __init__(self, state: Path, mount: Path, *, image_bytes: int, quota: bool = True) -> None:
        self.state, self.mount = state, mount
        self.image = state / "workspaces.btrfs"
        self.image_bytes = image_bytes
        self.quota_wanted = quota
        self.quota_enforced = False
        #: this Disk's entry among the filesystem's users (``<pid>-<random>``: several per process are fine)
        self._user = f"{os.getpid()}-{secrets.token_hex(4)}"

    @property
    def workspaces(self) -> Path:
        return self.mount / "ws"

    @property
    def attach(self) -> Path:
        """Where the sources of sessions' directory mounts live (``SandboxProvider.mount_root``)."""
        return self.mount / "attach"

    @property
    def layers(self) -> Path:
        return self.mount / "layers"

    @property
    def _users(self) -> Path:
        """One file per open ``Disk`` using the filesystem (``<pid>-<random>``): the mount's reference count."""
        return self.state / "disk.users"

    def open(self) -> None:
        self.mount.mkdir(mode=0o711, parents=True, exist_ok=True)
        with (self.state / "disk.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not mounted(self.mount):
                self._mount()
            self._users.mkdir(mode=0o700, exist_ok=True)
            (self._users / self._user).touch()
        self._after_mount()

    def _after_mount(self) -> None:
        self.quota_enforced = self._is_btrfs_mount()
        if not self.quota_enforced:
            log.warning("sandbox workspaces have no disk quota (btrfs unavailable); a sandbox can fill the disk")
        for directory in (self.mount, self.workspaces, self.layers, self.attach):
            directory.mkdir(mode=0o711, exist_ok=True)
            directory.chmod(0o711)

    def close(self) -> None:
        """Stop using the filesystem; the last process using it (whoever mounted it) unmounts it. Processes
        that share a data directory (``corral serve`` and ``corral worker`` …) never pull it from under each other;
        one that died without closing is not counted."""
        with (self.state / "disk.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            (self._users / self._user).unlink(missing_ok=True)
            users = list(self._users.iterdir()) if self._users.exists() else []
            live = [user for user in users if _alive(user.name)]
            for gone in set(users) - set(live):
                gone.unlink(missing_ok=True)  # a process that died without closing
            if not live and mounted(self.mount):
                subprocess.run(["umount", "--lazy", str(self.mount)], check=False, capture_output=True, timeout=60)

    def _mount(self) -> None:
        if self.quota_wanted and shutil.which("mkfs.btrfs") and shutil.which("btrfs"):
            try:
                self._mount_btrfs()
                return
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("cannot mount a btrfs workspace filesystem (%s); using plain directories", exc)
        plain = self.state / "fs"
        plain.mkdir(mode=0o711, exist_ok=True)
        _run("mount", "--bind", str(plain), str(self.mount))

    def _mount_btrfs(self) -> None:
        fresh = not self.image.exists() or not _is_btrfs(self.image)
        if fresh:
            free = shutil.disk_usage(self.state).free
            with self.image.open("wb") as f:
                f.truncate(max(_MIN_IMAGE, min(self.image_bytes, free // 2)))
            _run("mkfs.btrfs", "-q", "-f", str(self.image))
        _run("mount", "-o", "loop,nodev,nosuid,noatime", str(self.image), str(self.mount))
        if fresh:
            _run("btrfs", "quota", "enable", str(self.mount))

    def _is_btrfs_mount(self) -> bool:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if fields[4] == str(self.mount):
                    return fields[fields.index("-") + 1] == "btrfs"
        return False

    def create_workspace(self, key: str, uid: int, quota_bytes: int) -> Path:
        path = self.workspaces / key
        if self.quota_enforced:
            self._subvolume(self.workspaces, key)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                limits = bytearray(struct.pack("QQQQQQ", 0, _LIMIT_MAX_RFER, quota_bytes, 0, 0, 0))
                fcntl.ioctl(fd, _QGROUP_LIMIT, limits)
            finally:
                os.close(fd)
        else:
            path.mkdir()
        os.chown(path, uid, uid)
        path.chmod(0o700)
        return path

    def _subvolume(self, parent: Path, name: str) -> None:
        fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.ioctl(fd, _SUBVOL_CREATE, _vol_args(name))
        finally:
            os.close(fd)

    def remove_workspace(self, key: str) -> None:
        path = self.workspaces / key
        if not path.exists():
            return
        if self.quota_enforced:
            fd = os.open(self.workspaces, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.ioctl(fd, _SNAP_DESTROY, _vol_args(key))
                return
            except OSError:
                pass  # not a subvolume (made before quotas were on): remove it as a directory
            finally:
                os.close(fd)
        shutil.rmtree(path, ignore_errors=True)

    def session_workspaces(self) -> list[str]:
        """The keys of the sessions' workspaces (warm pools' unclaimed ones are not sessions')."""
        try:
            return sorted(p.name for p in self.workspaces.iterdir() if p.name.startswith(SESSION_KEY_PREFIX))
        except FileNotFoundError:
            return []

    def owner(self, key: str) -> int | None:
        try:
            return (self.workspaces / key).stat().st_uid
        except FileNotFoundError:
            return None


def _alive(user: str) -> bool:
    """Whether the process of a users entry (``<pid>-<random>``) still runs."""
    pid = user.partition("-")[0]
    return pid.isdigit() and Path(f"/proc/{pid}").exists()


class UidAllocator:
    """Hands out host uids for sandboxes, never the same one twice on this host, whichever corral instance (data
    dir) asks: a counter in a host-wide registry file under a file lock.

    The data dir's own counter (``local``, where corral kept it before) is read and advanced too, so an instance
    upgraded from a per-data-dir counter never hands out a uid it used before, and nor does any other instance.
    """

    def __init__(self, registry: Path, base: int, local: Path | None = None) -> None:
        self.registry, self.base, self.local = registry, base, local

    def allocate(self) -> int:
        self.registry.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        with self.registry.open("a+") as shared:
            fcntl.flock(shared, fcntl.LOCK_EX)
            current = max(self.base, _counted(shared), *self._local_count())
            _count(shared, current + 1)
            if self.local is not None:
                with self.local.open("a+") as local:
                    _count(local, current + 1)
        return current

    def _local_count(self) -> list[int]:
        if self.local is None:
            return []
        try:
            return [int(self.local.read_text().strip() or 0)]
        except FileNotFoundError:
            return []


def _counted(counter: IO[str]) -> int:
    counter.seek(0)
    return int(counter.read().strip() or 0)


def _count(counter: IO[str], value: int) -> None:
    counter.seek(0)
    counter.truncate()
    counter.write(str(value))
    counter.flush()

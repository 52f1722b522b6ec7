"""The filesystem that holds session workspaces, with a disk quota per workspace.

Preferred: a btrfs filesystem in a sparse image file under the data dir, loop-mounted at the runtime
directory; each workspace is a subvolume with a qgroup limit, so a sandbox that fills its disk gets
``EDQUOT`` while the host and the other sessions keep their space. (This kernel has no ext4 quota support;
btrfs qgroups need nothing but the filesystem.) Fallback when btrfs is unavailable: plain directories,
bind-mounted at the same place, *without* a quota (``quota_enforced`` is False and a warning is logged).

With ``workspace_bytes`` set, the subvolumes of one tenant workspace's sessions are also members of one level-1
qgroup (``1/N``, N from the map ``<mount>/workspace-qgroups.json``, kept on the filesystem it describes) limited
to that many bytes: together they cannot pass it, whatever each session's own quota. A subvolume joins its group
when it is made (empty: the kernel accounts it without a rescan), or when a warm sandbox's workspace becomes a
session's (``join``: nothing but the agent's start has written there). Metadata is charged to qgroups too, so the
limit also bounds how many files (inodes) a workspace holds: btrfs has no inode quota. Session workspaces made
before the setting was set are not members.

Invariants: a workspace is a directory owned by its session's host uid, mode 0700; the filesystem is
mounted ``nodev,nosuid``; sandboxes cannot create subvolumes (the seccomp filter refuses btrfs ioctls), so
a quota cannot be escaped by nesting.
"""

from __future__ import annotations

import errno
import fcntl
import json
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
_INO_LOOKUP = 0xD0009412  # _IOWR(0x94, 18, struct btrfs_ioctl_ino_lookup_args)
_QGROUP_ASSIGN = 0x40189429  # _IOW(0x94, 41, struct btrfs_ioctl_qgroup_assign_args)
_QGROUP_CREATE = 0x4010942A  # _IOW(0x94, 42, struct btrfs_ioctl_qgroup_create_args)
_QGROUP_LIMIT = 0x8030942B  # _IOR(0x94, 43, struct btrfs_ioctl_qgroup_limit_args)
_FIRST_FREE_OBJECTID = 256  # the root directory of every subvolume
_LEVEL_1 = 1 << 48  # qgroup id ``1/N`` is ``(1 << 48) | N``
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

    def __init__(
        self, state: Path, mount: Path, *, image_bytes: int, quota: bool = True, workspace_bytes: int = 0
    ) -> None:
        self.state, self.mount = state, mount
        self.image = state / "workspaces.btrfs"
        self.image_bytes = image_bytes
        self.quota_wanted = quota
        #: the limit of each tenant workspace's sessions together (0: none)
        self.workspace_bytes = workspace_bytes
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

    def create_workspace(self, key: str, uid: int, quota_bytes: int, tenant: str = "") -> Path:
        """The workspace ``key`` with its own quota, counted in the group of tenant workspace ``tenant`` ("": none)."""
        path = self.workspaces / key
        if self.quota_enforced:
            self._subvolume(self.workspaces, key)
            _limit(path, 0, quota_bytes)  # qgroup 0: the subvolume's own
            self.join(key, tenant)
        else:
            path.mkdir()
        os.chown(path, uid, uid)
        path.chmod(0o700)
        return path

    def join(self, key: str, tenant: str) -> None:
        """Count workspace ``key`` in the group of tenant workspace ``tenant`` (a no-op without a limit or tenant)."""
        if not (self.quota_enforced and tenant and self.workspace_bytes > 0):
            return
        group = _LEVEL_1 | self._group_number(tenant)
        _qgroup_ioctl(self.mount, _QGROUP_CREATE, struct.pack("QQ", 1, group))
        _qgroup_ioctl(self.mount, _QGROUP_ASSIGN, struct.pack("QQQ", 1, _subvolume_id(self.workspaces / key), group))
        _limit(self.mount, group, self.workspace_bytes)  # again each time: the setting may have changed

    def _group_number(self, tenant: str) -> int:
        """N of the tenant's qgroup ``1/N``, allocated on first use; the map is shared (under a lock) by every
        process using this filesystem."""
        with (self.mount / "workspace-qgroups.json").open("a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            groups: dict[str, int] = json.loads(f.read() or "{}")
            number = groups.get(tenant)
            if number is None:
                number = groups[tenant] = max(groups.values(), default=0) + 1
                f.seek(0)
                f.truncate()
                f.write(json.dumps(groups))
                f.flush()
            return number

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


def _limit(path: Path, qgroup: int, max_bytes: int) -> None:
    """Limit the referenced bytes of ``qgroup`` (0: the subvolume at ``path``'s own) to ``max_bytes``."""
    _qgroup_ioctl(path, _QGROUP_LIMIT, struct.pack("QQQQQQ", qgroup, _LIMIT_MAX_RFER, max_bytes, 0, 0, 0))


def _qgroup_ioctl(path: Path, request: int, args: bytes) -> None:
    """A qgroup ioctl on the filesystem of ``path``; one that finds its work done already (``EEXIST``) is fine."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, request, bytearray(args))
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    finally:
        os.close(fd)


def _subvolume_id(path: Path) -> int:
    """The id of the subvolume whose root directory is ``path`` (its level-0 qgroup is ``0/<id>``)."""
    args = bytearray(struct.pack("QQ", 0, _FIRST_FREE_OBJECTID) + b"\0" * 4080)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, _INO_LOOKUP, args)
    finally:
        os.close(fd)
    subvolume: int = struct.unpack_from("Q", args)[0]
    return subvolume


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

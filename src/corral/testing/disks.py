"""Full disks on demand, for the chaos harness (``corral.testing.chaos``): a small loop-mounted filesystem of a
test's own (``LoopFilesystem``), and ``fill`` / ``drain`` of any mounted filesystem.

Invariants:

* ``fill`` takes the space with preallocated files (``fallocate``: nothing written, so filling a large
  filesystem costs no I/O) named ``.chaos-filler-*`` at the filesystem's root, until less than ``slack`` bytes
  are left to anyone (root included: the loop filesystem is made without reserved blocks); ``drain`` removes
  exactly those files.
* ``LoopFilesystem.unavailable()`` says why no loop filesystem can be made here (not root, no ``mkfs.ext4`` or
  ``losetup``, no loop device), before anything is touched; ``unmount`` detaches its loop device too.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

FILLER_PREFIX = ".chaos-filler-"
_SMALLEST = 4096


def free_bytes(path: Path) -> int:
    """Bytes root can still allocate on the filesystem of ``path``."""
    stat = os.statvfs(path)
    return stat.f_bfree * stat.f_frsize


def fill(root: Path, slack: int = 64 * 1024) -> int:
    """Take the free space of the filesystem mounted at ``root`` (see the module's invariants); returns the bytes
    taken."""
    taken, size, n = 0, free_bytes(root), 0
    while size >= _SMALLEST and free_bytes(root) > slack:
        path = root / f"{FILLER_PREFIX}{n}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)
            taken += size
            n += 1
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            size //= 2  # the filesystem's own bookkeeping wants some of what statvfs called free
        finally:
            os.close(fd)
        if path.stat().st_size == 0:
            path.unlink()
    return taken


def drain(root: Path) -> None:
    for path in root.glob(f"{FILLER_PREFIX}*"):
        path.unlink(missing_ok=True)


@dataclass
class LoopFilesystem:
    """An ext4 filesystem of ``size`` bytes in ``image``, loop-mounted at ``mount``."""

    image: Path
    mount: Path
    size: int = 64 * 1024**2

    @staticmethod
    def unavailable() -> str | None:
        if os.geteuid() != 0:
            return "a loop-mounted filesystem needs root"
        missing = [tool for tool in ("mkfs.ext4", "losetup", "mount", "umount") if shutil.which(tool) is None]
        if missing:
            return f"a loop-mounted filesystem needs {', '.join(missing)}"
        if not Path("/dev/loop-control").exists():
            return "this kernel offers no loop devices (/dev/loop-control is missing)"
        return None

    def create(self) -> None:
        why = self.unavailable()
        if why is not None:
            raise RuntimeError(why)
        self.image.parent.mkdir(parents=True, exist_ok=True)
        with self.image.open("wb") as f:
            f.truncate(self.size)
        _run("mkfs.ext4", "-q", "-F", "-m", "0", str(self.image))  # -m 0: no blocks kept back for root
        self.mount.mkdir(parents=True, exist_ok=True)
        _run("mount", "-o", "loop,nodev,nosuid", str(self.image), str(self.mount))

    def unmount(self) -> None:
        """Unmount and detach the loop device, and return once the kernel no longer lists it: ``umount`` frees a
        device that ``mount -o loop`` set up, but the kernel clears it later, off the calling thread. ``umount``
        is tried again while the mount is busy (a killed process still closing its files on it)."""
        for _ in range(600):
            if os.path.ismount(self.mount):
                subprocess.run(["umount", str(self.mount)], capture_output=True, timeout=60, check=False)
            devices = self._devices()
            if not devices and not os.path.ismount(self.mount):
                return
            for device in devices:
                subprocess.run(["losetup", "-d", device], capture_output=True, timeout=60, check=False)
            time.sleep(0.05)  # noqa: TID251 - polling the kernel's loop list (no event to wait on); sync code

    def _devices(self) -> list[str]:
        listed = subprocess.run(
            ["losetup", "-n", "-O", "NAME", "-j", str(self.image)], capture_output=True, text=True, check=False
        )
        return listed.stdout.split()


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {result.stderr.decode(errors='replace')[-300:]}")

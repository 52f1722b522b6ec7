"""cgroup v1 limits for local sandboxes: ``memory``, ``pids`` and ``cpu``.

Each sandbox gets fresh cgroups ``corral/<owner>/<name>`` in each controller, where ``<owner>`` names the
provider process, so a later provider can tell which leftovers belong to a process that is gone and sweep
them. A sandbox's processes are moved in before it runs any code (bwrap waits on ``--block-fd`` meanwhile).

Invariants: limits are set before any process joins; swap is off for sandboxes (``memory.swappiness`` 0);
cgroups are removed once their sandbox is gone (remaining tasks are killed first).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
import anyio.to_thread

from corral.errors import ErrorCode, SandboxError
from corral.sandbox.base import Limits

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000


def available() -> bool:
    return all((ROOT / c / "cgroup.procs").exists() for c in CONTROLLERS)


def _write(path: Path, value: str) -> None:
    with path.open("w") as f:
        f.write(value)


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


class Cgroups:
    """The cgroups of one sandbox."""

    def __init__(self, owner: str, name: str) -> None:
        self.dirs = [ROOT / c / "corral" / owner / name for c in CONTROLLERS]

    def create(self, limits: Limits) -> None:
        for directory in self.dirs:
            directory.mkdir(parents=True, exist_ok=True)
        memory, pids, cpu = self.dirs
        _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
        _write(memory / "memory.swappiness", "0")
        _write(pids / "pids.max", str(limits.pids))
        _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write(cpu / "cpu.cfs_quota_us", str(max(1000, int(limits.cpu_fraction * CPU_PERIOD_US))))

    def join(self, *pids: int) -> None:
        for directory in self.dirs:
            for pid in pids:
                _write(directory / "cgroup.procs", str(pid))

    def oom_kills(self) -> int:
        """Processes the kernel killed for exceeding the memory limit, so far."""
        return _counter(self.dirs[0] / "memory.oom_control", "oom_kill")

    def pids_refusals(self) -> int:
        """Forks refused because the process limit was reached, so far."""
        return _counter(self.dirs[1] / "pids.events", "max")

    def counters(self) -> tuple[int, int]:
        return self.oom_kills(), self.pids_refusals()

    def kill_all_but(self, keep: set[int]) -> int:
        """Kill every process in the sandbox not in ``keep``; how many there were."""
        return _kill_tasks(self.dirs[1], keep)

    def try_remove(self) -> bool:
        """Kill what is left inside and remove the cgroups; False if some are still busy (blocking, brief)."""
        for directory in self.dirs:
            if directory.exists():
                _kill_tasks(directory)
                try:
                    directory.rmdir()
                except OSError:
                    return False
        return True

    async def remove(self, attempts: int = 100) -> None:
        for _ in range(attempts):
            if await anyio.to_thread.run_sync(self.try_remove):
                return
            await anyio.sleep(0.01)


def _counter(path: Path, key: str) -> int:
    try:
        text = path.read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def _kill_tasks(directory: Path, keep: set[int] | None = None) -> int:
    try:
        pids = [int(pid) for pid in (directory / "cgroup.procs").read_text().split()]
    except OSError:
        return 0
    doomed = [pid for pid in pids if not keep or pid not in keep]
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(doomed)


def check() -> None:
    if not available():
        raise SandboxError(
            "the local sandbox provider needs the cgroup v1 memory, pids and cpu controllers under /sys/fs/cgroup",
            code=ErrorCode.SANDBOX_PROVISION_FAILED,
        )


def remove_owner(owner: str) -> None:
    """Remove a provider's (empty) parent cgroups when it closes."""
    for controller in CONTROLLERS:
        try:
            (ROOT / controller / "corral" / owner).rmdir()
        except OSError:
            pass


def sweep_orphans() -> None:
    """Remove cgroups left by provider processes that no longer exist (``corral/<name>-<pid>``)."""
    for controller in CONTROLLERS:
        base = ROOT / controller / "corral"
        if not base.is_dir():
            continue
        for owner in base.iterdir():
            pid = owner.name.rsplit("-", 1)[-1]
            if owner.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
                for child in [c for c in owner.iterdir() if c.is_dir()]:
                    _kill_tasks(child)
                    try:
                        child.rmdir()
                    except OSError:
                        pass
                try:
                    owner.rmdir()
                except OSError:
                    pass

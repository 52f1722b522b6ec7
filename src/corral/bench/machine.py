"""A description of the machine a run happened on, read from the machine itself at run time.

Invariant: nothing here is configured or typed in; every field is read from ``/proc``, ``/sys``, the
interpreter or the libraries, so BENCHMARKS.md always describes the machine that produced its figures.
"""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path
from typing import TypedDict

from corral.bench.cpu import OtherCpu


class Disk(TypedDict, total=False):
    device: str
    rotational: bool | None


class Machine(TypedDict, total=False):
    """``describe``'s answer; the runner adds the PostgreSQL server's settings, the load at the end
    and the CPU other processes used during the suite (``corral.bench.cpu``)."""

    cpu_model: str
    cpus_online: int | None
    cpus_usable: int
    memory_gib: float | None
    kernel: str
    virtualisation: str
    disk: Disk
    python: str
    sqlite: str
    load_average_at_start: list[float]
    load_average_at_end: list[float]
    postgres: dict[str, str]
    other_cpu: OtherCpu


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _virtualisation() -> str:
    init = _read("/proc/1/cmdline").replace("\0", " ")
    if "firecracker" in init:
        return "Firecracker microVM"
    if Path("/.dockerenv").exists():
        return "container"
    return "unknown"


def _disk(path: Path) -> Disk:
    """The block device behind ``path`` and whether the kernel calls it rotational."""
    try:
        dev = os.stat(path).st_dev
    except OSError:
        return {}
    major, minor = os.major(dev), os.minor(dev)
    block = Path(f"/sys/dev/block/{major}:{minor}")
    name = block.resolve().name if block.exists() else f"{major}:{minor}"
    rotational = _read(f"/sys/block/{name}/queue/rotational").strip()
    return {"device": name, "rotational": rotational == "1" if rotational else None}


def describe(data_dir: Path) -> Machine:
    uname = platform.uname()
    load = os.getloadavg()
    return {
        "cpu_model": _cpu_model(),
        "cpus_online": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": _memory_gib(),
        "kernel": f"{uname.system} {uname.release}",
        "virtualisation": _virtualisation(),
        "disk": _disk(data_dir if data_dir.exists() else Path(".")),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in load],
    }

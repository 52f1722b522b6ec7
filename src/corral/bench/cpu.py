"""How much CPU other processes used during a suite: what decides whether its figures are provisional.

Other processes' CPU = the whole machine's busy CPU time over the suite (``/proc/stat``: every state but idle and
iowait) minus the CPU time of this run's own process trees over the same span (``/proc/<pid>/stat``: user + system
time of each live process, plus what its reaped children used). The run's trees are this process and its
descendants, and the roots it names besides (the throwaway PostgreSQL server, which ``pg_ctl`` detaches).

Invariants: the figures come from the kernel's counters only (clock ticks, converted to seconds); a process of the
run that exits and is reaped during the suite stays counted through its parent's children time; one that is
reparented away from the run's trees (a daemon we did not name) counts as "other", which errs towards calling a
run provisional, never towards calling it quiet. The share is other CPU time ÷ (wall time × CPUs online), because
``/proc/stat`` counts every CPU. A suite is provisional when that share exceeds ``PROVISIONAL_SHARE``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

PROVISIONAL_SHARE = 0.10  # other processes used more than 10% of the machine's CPU capacity during the suite
_TICK = os.sysconf("SC_CLK_TCK")
_IDLE_FIELDS = (3, 4)  # idle, iowait in the "cpu" line's counters (user nice system idle iowait irq softirq steal)


class OtherCpu(TypedDict):
    """Recorded in a result's ``machine`` as ``other_cpu``."""

    seconds: float  # CPU seconds other processes used during the suite
    share: float  # seconds ÷ (wall seconds × cpus)
    cpus: int
    threshold: float


def machine_busy_seconds(stat: str) -> float:
    """Busy CPU seconds of every CPU since boot, from ``/proc/stat``'s text (guest time is inside user time)."""
    fields = next(line.split() for line in stat.splitlines() if line.startswith("cpu "))
    counters = [int(x) for x in fields[1:9]]
    return sum(v for i, v in enumerate(counters) if i not in _IDLE_FIELDS) / _TICK


def process_seconds(stat: str) -> tuple[int, float]:
    """``(parent pid, CPU seconds)`` of one ``/proc/<pid>/stat`` line: utime + stime + cutime + cstime."""
    after_name = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    ppid = int(after_name[1])
    return ppid, sum(int(x) for x in after_name[11:15]) / _TICK


def _processes() -> dict[int, tuple[int, float]]:
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = process_seconds((entry / "stat").read_text())
            except (OSError, ValueError, IndexError):  # it exited while we looked
                continue
    return found


def tree_seconds(processes: dict[int, tuple[int, float]], roots: Iterable[int]) -> float:
    """CPU seconds of ``roots`` and every live descendant of theirs in ``processes`` (pid → (ppid, seconds))."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in processes.items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    pending = [pid for pid in roots if pid in processes]
    while pending:
        pid = pending.pop()
        if pid not in seen:
            seen.add(pid)
            pending.extend(children.get(pid, []))
    return sum(processes[pid][1] for pid in seen)


@dataclass(frozen=True)
class Sample:
    wall: float
    machine: float
    ours: float


def sample(roots: Iterable[int] = ()) -> Sample:
    """The machine's busy CPU seconds and the run's own, now (``roots`` besides this process)."""
    ours = tree_seconds(_processes(), [os.getpid(), *roots])
    return Sample(time.monotonic(), machine_busy_seconds(Path("/proc/stat").read_text()), ours)


def other_cpu(start: Sample, end: Sample, cpus: int | None = None) -> OtherCpu:
    """What other processes used between two samples."""
    cpus = cpus or os.cpu_count() or 1
    seconds = max(0.0, (end.machine - start.machine) - (end.ours - start.ours))
    wall = max(end.wall - start.wall, 1e-9)
    share = seconds / (wall * cpus)
    return {"seconds": round(seconds, 2), "share": round(share, 4), "cpus": cpus, "threshold": PROVISIONAL_SHARE}


def provisional(other: OtherCpu | None) -> bool:
    """Whether other processes used more than the threshold (unknown counts as provisional)."""
    return other is None or other["share"] > PROVISIONAL_SHARE

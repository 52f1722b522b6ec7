"""The ``footprint`` arm of the ``sandbox`` suite: the memory a user pays per sandbox, idle and active.

N sandboxes are started cold on the real local provider and left idle; the resident memory of this process and all
its descendants (the sandboxes' bubblewrap and agent processes among them) is read from ``/proc`` before and after,
as RSS and as PSS (shared pages divided among the processes sharing them, so a library mapped by every sandbox is
counted once in total). Then every sandbox runs one command at once (``sleep``: corral's own share of an active
sandbox, not a workload's) and the peak during it is taken. Per sandbox = growth ÷ N.

Invariants: the figures are read from ``/proc`` (never estimated); every sandbox is released before the arm
returns; a failed start or command fails the arm.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import anyio

from corral.bench.measure import add_value
from corral.bench.results import Arm
from corral.bench.suite import Context
from corral.errors import SandboxError
from corral.sandbox import ProvisionSpec, Sandbox, SandboxProvider
from corral.vocab.tools import BASH

_ids = itertools.count(1)
ACTIVE_SECONDS = 2.0


def _parent(pid: str) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])  # the command name may hold spaces and parentheses


def _kib(path: Path, field: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):  # it exited while we looked
        pass
    return 0


def tree_memory(root: int) -> tuple[int, int]:
    """``(RSS, PSS)`` in KiB of ``root`` and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (ppid := _parent(entry)) is not None:
            children.setdefault(ppid, []).append(int(entry))
    seen: set[int] = set()
    pending = [root]
    while pending:
        pid = pending.pop()
        if pid not in seen:
            seen.add(pid)
            pending.extend(children.get(pid, []))
    rss = sum(_kib(Path(f"/proc/{pid}/status"), "VmRSS:") for pid in seen)
    pss = sum(_kib(Path(f"/proc/{pid}/smaps_rollup"), "Pss:") for pid in seen)
    return rss, pss


async def _memory() -> tuple[int, int]:
    return await anyio.to_thread.run_sync(tree_memory, os.getpid())


async def _run(sandbox: Sandbox, command: str) -> None:
    result = await sandbox.execute(BASH, {"command": command}, f"toolu_footprint{next(_ids)}")
    if result.is_error:
        raise SandboxError(f"`{command}` failed: {result.content}")


async def measure(ctx: Context, arm: Arm, provider: SandboxProvider) -> None:
    count = ctx.pick("sandbox.footprint", 4, 20)
    sandboxes: list[Sandbox] = []
    try:
        before = await _memory()
        for _ in range(count):
            spec = ProvisionSpec(session_id=f"sesn_footprint{next(_ids):06d}", environment_id="env_bench_footprint")
            sandboxes.append(await provider.provision(spec))
        for sandbox in sandboxes:  # each one has run a command: started and answering, then idle
            await _run(sandbox, "true")
        idle = await _memory()
        peak = [idle]

        async def sample() -> None:
            while True:
                peak.append(await _memory())
                await anyio.sleep(0.1)

        async with anyio.create_task_group() as group:
            group.start_soon(sample)
            async with anyio.create_task_group() as commands:
                for sandbox in sandboxes:
                    commands.start_soon(_run, sandbox, f"sleep {ACTIVE_SECONDS:g}")
            group.cancel_scope.cancel()
    except (SandboxError, OSError) as exc:
        arm.status = f"failed: {type(exc).__name__}: {exc}"[:300]
        return
    finally:
        for sandbox in sandboxes:
            await sandbox.release()
    for index, kind in enumerate(("rss", "pss")):
        label = f"{kind.upper()} growth per idle sandbox ({count} started, each after one command)"
        add_value(arm, f"idle_{kind}_kib", label, (idle[index] - before[index]) / count, "KiB", n=count)
        top = max(p[index] for p in peak)
        label = f"peak {kind.upper()} growth per active sandbox ({count} running `sleep {ACTIVE_SECONDS:g}` at once)"
        add_value(arm, f"active_{kind}_kib", label, (top - before[index]) / count, "KiB", n=count)

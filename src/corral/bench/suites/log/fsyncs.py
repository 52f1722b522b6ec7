"""Syncs per append, counted for corral and for the peer: what "equal durability" rests on.

Each side appends the workload's events one at a time in a child process run under ``strace -f`` (tracing only the
sync system calls: ``fsync``, ``fdatasync``, ``sync_file_range``, ``msync``, ``syncfs``, ``sync``), once with no
appends and once with ``n``, on fresh storage; per append = (syncs with ``n`` − syncs with none) ÷ ``n``, so opening,
creating and closing cancel out. corral: ``corral.bench.append_probe`` (``SessionStore.emit_event`` on
SQLite at the given ``synchronous``); the peer: its own ``openhands_peer.py`` in its virtualenv, driven over stdin
(``EventLog.append``). These runs are not timed; the timed appends are the suite's ``emit`` phase.

Invariants: the count is read from strace's own output (one line per call; a call strace splits across lines is
counted once); without strace the figure is absent, never guessed. PostgreSQL's syncs happen in the server, not in
the appending process, so they are not counted here (its settings are listed with the results).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import anyio

from corral.vocab.tools import BASH

SYNCS = ("fsync", "fdatasync", "sync_file_range", "msync", "syncfs", "sync")
_CALL = re.compile(r"^(?:\[pid\s+)?\d*\]?\s*(" + "|".join(SYNCS) + r")\(")


def available() -> bool:
    return shutil.which("strace") is not None


def count_in(trace: str) -> int:
    """Sync calls in strace output (``-f -o``: lines may start with a pid; ``<... resumed>`` halves not counted)."""
    return sum(1 for line in trace.splitlines() if _CALL.match(line.strip()))


async def _traced(command: list[str], out: Path, stdin: bytes = b"") -> int:
    strace = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", f"trace={','.join(SYNCS)}", "-o", str(out), "--", *command]
    done = await anyio.run_process(strace, input=stdin, check=False)
    if done.returncode != 0:
        tail = (done.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"{command[0]} exited with {done.returncode} under strace: {tail[:200]}")
    return count_in(await anyio.Path(out).read_text(errors="replace"))


async def corral_per_append(scratch: Path, synchronous: str, n: int, seed: int) -> float:
    counts: list[int] = []
    for index, count in enumerate((0, n)):
        db = scratch / f"fsyncs-{synchronous}-{index}.db"
        command = [sys.executable, "-m", "corral.bench.append_probe", f"sqlite:///{db}"]
        counts.append(await _traced([*command, synchronous, str(count), str(seed)], scratch / f"{db.name}.trace"))
    return (counts[1] - counts[0]) / n


async def peer_per_append(scratch: Path, python: Path, script: Path, n: int, seed: int) -> float:
    counts: list[int] = []
    for index, count in enumerate((0, n)):
        workdir = scratch / f"fsyncs-peer-{index}"
        requests = [
            {"op": "start_append", "system": "eventlog", "seed": seed, "n": n},
            {"op": "append", "system": "eventlog", "count": count},
        ]
        stdin = "".join(json.dumps(r) + "\n" for r in requests).encode()
        command = [str(python), str(script), str(workdir), BASH]
        counts.append(await _traced(command, scratch / f"fsyncs-peer-{index}.trace", stdin))
    return (counts[1] - counts[0]) / n

"""The ``snapshots`` suite: what workspaces that follow the session cost (issue 12's targets: a snapshot of a 1 GiB
workspace with a 1 MiB change in < 1 s; a restore of a 100 MiB workspace in < 2 s).

Both arms run ``corral.sandbox.snapshots.Snapshots`` on the embedded default's blob store (``LocalBlobStore``, in
the run's scratch directory), as a worker's ``checkpoint`` and ``bring`` run it, without a sandbox around it:

* ``snapshot``: a workspace of ``snapshots.workspace_mib`` MiB of random bytes in two shapes, each snapshotted once
  in full first, then timed per round after a 1 MiB change: ``files`` (4 MiB files, one of them rewritten) and
  ``one-file`` (a single file, 1 MiB overwritten in place at a random offset, so the whole file is read and
  hashed again). The target is judged on ``one-file``, the costlier shape.
* ``restore``: a workspace of ``snapshots.restore_mib`` MiB (1 MiB files) snapshotted once, then restored into a
  fresh directory per round (reading the manifest, fetching, checking and decompressing every chunk, writing
  the files), as a host that does not hold the session's workspace does. The blobs were just written, so the
  local store reads them from the page cache: this is the floor of a restore, not what S3 costs.

Invariants: every round's snapshot stores at most 3 blobs (the changed chunks and the manifest) or the arm fails;
every restored workspace holds exactly the bytes saved (compared by sha256) or the arm fails.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

import anyio.to_thread

from corral.bench.measure import add_latency, add_value
from corral.bench.results import Arm, SuiteResult
from corral.bench.suite import Context, Suite
from corral.blobs.local import LocalBlobStore
from corral.sandbox.snapshots import Snapshots

MIB = 1024 * 1024


def _fill(directory: Path, total: int, per_file: int, rng: random.Random) -> None:
    directory.mkdir(parents=True)
    for index in range(max(1, total // per_file)):
        with (directory / f"f{index:05d}.bin").open("wb") as out:
            for _ in range(0, per_file, 4 * MIB):
                out.write(rng.randbytes(min(4 * MIB, per_file)))


def _overwrite(path: Path, rng: random.Random) -> None:
    """1 MiB of new bytes at a random offset of ``path``, in place."""
    size = path.stat().st_size
    with path.open("r+b") as out:
        out.seek(rng.randrange(0, max(1, size - MIB + 1)))
        out.write(rng.randbytes(MIB))


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


async def _changes(snapshots: Snapshots, workspace: Path, target: Path, rounds: int, rng: random.Random) -> list[float]:
    """Snapshot ``workspace`` in full, then once per round after ``_overwrite(target)``: the timed snapshots."""
    saved = await snapshots.save(workspace)
    times: list[float] = []
    for _ in range(rounds):
        await anyio.to_thread.run_sync(_overwrite, target, rng)
        began = time.perf_counter()
        saved = await snapshots.save(workspace, saved.manifest)
        times.append(time.perf_counter() - began)
        if saved.stored_blobs > 3:
            raise RuntimeError(f"a 1 MiB change stored {saved.stored_blobs} blobs")
    return times


async def snapshot(ctx: Context, arm: Arm, snapshots: Snapshots, rng: random.Random) -> None:
    total, rounds = ctx.pick("snapshots.workspace_mib", 64, 1024) * MIB, ctx.pick("snapshots.rounds", 3, 10)
    files, single = ctx.scratch / "files", ctx.scratch / "one-file"
    await anyio.to_thread.run_sync(_fill, files, total, 4 * MIB, rng)
    await anyio.to_thread.run_sync(_fill, single, total, total, rng)
    many = await _changes(snapshots, files, files / "f00000.bin", rounds, rng)
    one = await _changes(snapshots, single, single / "f00000.bin", rounds, rng)
    add_latency(arm, "files", "snapshot after a 1 MiB change, workspace of 4 MiB files", many)
    add_latency(arm, "one-file", "snapshot after a 1 MiB in-place change, workspace of one file", one)
    add_value(arm, "workspace_mib", "workspace size", total / MIB, "MiB")


async def restore(ctx: Context, arm: Arm, snapshots: Snapshots, rng: random.Random) -> None:
    total, rounds = ctx.pick("snapshots.restore_mib", 20, 100) * MIB, ctx.pick("snapshots.rounds", 3, 10)
    workspace = ctx.scratch / "restore-from"
    await anyio.to_thread.run_sync(_fill, workspace, total, MIB, rng)
    saved = await snapshots.save(workspace)
    expected = await anyio.to_thread.run_sync(_digests, workspace)
    times: list[float] = []
    for index in range(rounds):
        target = ctx.scratch / f"restored-{index}"
        target.mkdir()
        began = time.perf_counter()
        await snapshots.restore(await snapshots.load(saved.ref), target, os.getuid())
        times.append(time.perf_counter() - began)
        if await anyio.to_thread.run_sync(_digests, target) != expected:
            raise RuntimeError("a restored workspace differs from the one saved")
    add_latency(arm, "restore", "restore into a fresh directory (manifest, chunks checked, files written)", times)
    add_value(arm, "workspace_mib", "workspace size", total / MIB, "MiB")


async def run(ctx: Context, result: SuiteResult) -> None:
    rng = random.Random(ctx.seed)
    blobs = LocalBlobStore(ctx.scratch / "blobs")
    try:
        snapshots = Snapshots(blobs)
        for arm, measure in (
            (Arm("snapshot", "a workspace snapshot after a 1 MiB change (incremental, local blob store)"), snapshot),
            (Arm("restore", "a workspace restored from its snapshot on a host without it (local blob store)"), restore),
        ):
            result.arms.append(arm)
            try:
                await measure(ctx, arm, snapshots, rng)
            except RuntimeError as exc:
                arm.status = f"failed: {exc}"
    finally:
        await blobs.aclose()


SUITE = Suite("snapshots", "the local blob store in the scratch directory (no sandbox, no database)", run)

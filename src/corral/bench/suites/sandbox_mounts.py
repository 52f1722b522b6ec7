"""The ``mounts`` arm of the ``sandbox`` suite: what a session's resources add to a sandbox start (issue 11's
target: mounting 8 memory stores and 3 files adds < 20 ms).

Each round provisions two sandboxes on the real local provider, in alternating order: ``bare`` (no mounts) and
``mounted``: a fresh session whose record holds 3 ``file`` resources (2 at the default path under
``/mnt/session/uploads``, one at a path of its own), asked through ``Combined`` of the real ``FileAttachments`` and
``OutputAttachments`` plus 8 read-only directory mounts under the mount root standing in for memory stores; timed
from asking the attachments to the sandbox's handshake. The files are uploaded once (SQLite, local blobs in the
scratch directory), so a round measures what every new session pays: reading its record, linking its files from
the host cache and binding the mounts.

Invariants: every sandbox is released and every session forgotten before the arm returns; a failed start fails
the arm.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

from corral.bench.measure import add_latency, add_value, interleave
from corral.bench.results import Arm, Metric
from corral.bench.stats import Estimate, difference_ci
from corral.bench.suite import Context
from corral.blobs.local import LocalBlobStore
from corral.db.engines import open_database
from corral.files import FileStore, Upload
from corral.ids import new_id
from corral.resources import Combined
from corral.resources.files import FileAttachments
from corral.resources.outputs import OutputAttachments
from corral.sandbox import ProvisionSpec, SandboxProvider
from corral.sandbox.attach import Attachments, Mount, SessionAttachments
from corral.session import NewSession, SessionStore

WORKSPACE = "wrkspc_bench"
_ids = itertools.count(1)


class _MemoryStandIns(SessionAttachments):
    """8 read-only directory mounts, as 8 memory stores would be."""

    def __init__(self, root: Path) -> None:
        self.mounts = tuple(Mount(str(root / f"store{index}"), f"/mnt/memory/store{index}") for index in range(8))
        for mount in self.mounts:
            Path(mount.source).mkdir(mode=0o755, parents=True, exist_ok=True)
            (Path(mount.source) / "notes.md").write_text("a memory\n")

    async def attachments(self, workspace_id: str, session_id: str) -> Attachments:
        return Attachments(mounts=self.mounts)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def measure(ctx: Context, arm: Arm, provider: SandboxProvider) -> None:
    root = provider.mount_root()
    if root is None:
        arm.not_measured("the provider mounts no host directories")
        return
    db = open_database(f"sqlite:///{ctx.scratch / 'mounts.db'}")
    await db.open()
    sessions = SessionStore(db)
    try:
        await _measure(ctx, arm, provider, root, sessions)
    finally:
        await sessions.aclose()
        await db.close()


async def _measure(ctx: Context, arm: Arm, provider: SandboxProvider, root: Path, sessions: SessionStore) -> None:
    files = FileStore(sessions.db, LocalBlobStore(ctx.scratch / "blobs"))
    resources: list[dict[str, object]] = []
    for index, size in enumerate((4096, 64 * 1024, 1024 * 1024)):
        stored = await files.put(_one(bytes([index]) * size))
        record = await files.create(WORKSPACE, Upload(f"input{index}.bin", None), stored)
        path = f"/data/input{index}.bin" if index == 2 else f"/mnt/session/uploads/{record.id}"
        resources.append({"type": "file", "id": new_id("resource"), "file_id": record.id, "mount_path": path})
    parts = (FileAttachments(sessions, files, root), OutputAttachments(files, root), _MemoryStandIns(root / "bench"))
    attachments = Combined(parts)
    made: list[str] = []

    async def bare() -> list[float]:
        spec = ProvisionSpec(session_id=f"sesn_benchbare{next(_ids):06d}", environment_id="env_bench_mounts")
        began = time.perf_counter()
        sandbox = await provider.provision(spec)
        took = time.perf_counter() - began
        await sandbox.release()
        return [took]

    async def mounted() -> list[float]:
        doc = {"agent": {"type": "agent"}, "resources": resources}
        record, _ = await sessions.create_session(NewSession(WORKSPACE, "agent_bench", 1, "env_bench_mounts", doc))
        made.append(record.id)
        began = time.perf_counter()
        attached = await attachments.attachments(WORKSPACE, record.id)
        spec = ProvisionSpec(session_id=record.id, environment_id="env_bench_mounts", mounts=attached.mounts)
        sandbox = await provider.provision(spec)
        took = time.perf_counter() - began
        await sandbox.release()
        return [took]

    try:
        rounds = ctx.pick("sandbox.mounts", 5, 40)
        label = "sandbox · start bare vs with 3 files + 8 dirs"
        samples, failed = await interleave(ctx, label, {"bare": bare, "mounted": mounted}, rounds)
    finally:
        for session_id in made:
            await attachments.forget(session_id)
    if failed:
        arm.status = "failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        return
    add_latency(arm, "bare", "cold start, no mounts", samples["bare"])
    label = "cold start with 3 file resources and 8 directory mounts, attachments included"
    add_latency(arm, "mounted", label, samples["mounted"])
    added = difference_ci(samples["mounted"], samples["bare"])
    millis = Estimate(added.value * 1000, _ms(added.low), _ms(added.high))
    label = "what the mounts add to a start (difference of medians)"
    arm.add(Metric.of("added.p50", label, millis, "ms", n=len(samples["bare"])))
    add_value(arm, "mounts", "mounts per mounted start (uploads dir, outputs dir, 1 file, 8 directories)", 11.0, "")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000

"""Workspaces that follow the session: a session's ``/workspace`` saved to the blob store, found on any host.

``WorkspaceStore`` joins ``Snapshots`` (the bytes, ``corral.sandbox.snapshots``) and ``WorkspaceRecords`` (which
snapshot is each session's latest, a row in the database: ``corral.session.WorkspaceRecords``). A provider given a
store saves a session's workspace when a turn ends and when its sandbox stops, and restores it when the session's
sandbox is provisioned on a host whose copy is missing or stale (``corral.sandbox.local.follow``).

The guarantee: a session's next sandbox, on any host, sees its workspace as of its latest snapshot. What was
written after that snapshot (the turn in progress when its host died) can be lost.

Invariants:

* ``save(session_id, directory, base)`` records a snapshot only in place of ``base`` (the one the host's copy was
  restored from or last saved as): a host whose copy is stale never overwrites a newer snapshot (``None``).
* ``base``, when given, is the snapshot the session's record names, so its blobs are live (``corral.blobs``'s rule
  for skipping a ``put``).
* A snapshot that is missing or corrupt is a ``SandboxError`` of code ``workspace_snapshot_failed``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from corral.blobs import BlobRef, BlobStore, LiveRefs
from corral.errors import SandboxError
from corral.sandbox.snapshots import Manifest, Saved, Snapshots


class WorkspaceRecords(Protocol):
    async def latest(self, session_id: str) -> str | None: ...

    async def record(self, session_id: str, ref: str, base: str | None) -> bool: ...

    def refs(self) -> AsyncIterator[str]: ...


class WorkspaceStore:
    def __init__(self, blobs: BlobStore, records: WorkspaceRecords) -> None:
        self.snapshots = Snapshots(blobs)
        self.records = records

    async def latest(self, session_id: str) -> BlobRef | None:
        ref = await self.records.latest(session_id)
        return None if ref is None else BlobRef(ref)

    async def save(self, session_id: str, directory: Path, base: BlobRef | None) -> Saved | None:
        """Snapshot ``directory`` as the session's latest in place of ``base``; None when ``base`` is not the
        latest any more (this copy is stale: nothing recorded)."""
        if await self.latest(session_id) != base:
            return None
        manifest: Manifest | None = None
        if base is not None:
            try:
                manifest = await self.snapshots.load(base)
            except SandboxError:
                manifest = None  # an unreadable base: a full snapshot, sharing nothing with it
        saved = await self.snapshots.save(directory, manifest)
        if saved.ref == base or await self.records.record(session_id, saved.ref, base):
            return saved
        return None

    async def restore(self, ref: BlobRef, directory: Path, uid: int) -> None:
        await self.snapshots.restore(await self.snapshots.load(ref), directory, uid)

    def live_refs(self) -> LiveRefs:
        """Every blob a session's latest snapshot holds (its manifest and chunks), for ``BlobStore.collect``. A
        manifest that cannot be read keeps only itself (its chunks were lost with it)."""

        async def live() -> AsyncIterator[BlobRef]:
            async for ref in self.records.refs():
                yield BlobRef(ref)
                try:
                    manifest = await self.snapshots.load(BlobRef(ref))
                except SandboxError:
                    continue
                for chunk in manifest.refs():
                    yield chunk

        return live

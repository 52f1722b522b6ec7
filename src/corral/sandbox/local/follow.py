"""Workspaces that follow the session, on this host: save to and restore from a ``WorkspaceStore``.

The host keeps, beside each session workspace it holds, a marker naming the snapshot its copy matches
(``<state>/snapshots/<key>``: the one it was restored from or last saved as). So:

* ``bring(spec)`` before a sandbox is built: a copy whose marker names the session's latest snapshot (or any copy
  when the session has no snapshot) is used as it is; a missing or stale copy (the session ran on another host
  since) is replaced by the latest snapshot, restored into a fresh workspace owned by a fresh uid. A snapshot
  that is missing or corrupt, or a workspace expected but never saved, gives a fresh, empty workspace and a
  ``ProvisionNotice`` the session is told; provisioning never hangs on it nor fails for it.
* ``save(session_id)`` when a turn ends and when a sandbox stops: snapshot the copy in place of its marker's
  snapshot (a stale copy records nothing); never raises, a failure is logged and returned as a notice.

Invariant: ``bring`` and ``save`` of one session never overlap (one lock per session), so a snapshot is never
taken of a workspace being restored, and the record and the marker move together (the marker is written after
the record commits; a crash in between only costs a restore).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import anyio
import anyio.to_thread

from corral.blobs import BlobRef
from corral.errors import SandboxError
from corral.sandbox.base import ProvisionNotice, ProvisionSpec
from corral.sandbox.local.host import Host
from corral.sandbox.local.workspace import Workspace
from corral.sandbox.workspaces import WorkspaceStore

log = logging.getLogger("corral.sandbox.local")

NOTICE_TYPE = "unknown_error"  # the API's session.error types have no workspace-specific one


class FollowingWorkspaces:
    def __init__(self, host: Host, store: WorkspaceStore) -> None:
        self.host = host
        self.store = store
        self.markers = host.layout.state / "snapshots"
        self._locks: dict[str, anyio.Lock] = {}

    async def bring(self, spec: ProvisionSpec) -> tuple[ProvisionNotice, ...]:
        """Make the session's workspace on this host its latest snapshot (see the module docstring)."""
        session_id = spec.session_id
        async with self._locks.setdefault(session_id, anyio.Lock()):
            latest = await self.store.latest(session_id)
            key = Workspace.of_session(session_id).key
            local = await anyio.to_thread.run_sync(self.host.disk.owner, key) is not None
            if latest is None:
                if local or not spec.workspace_expected:
                    return ()
                return (
                    ProvisionNotice(
                        NOTICE_TYPE,
                        "no snapshot of this session's workspace was found (its host"
                        " stopped before saving it): the sandbox starts with an empty /workspace",
                    ),
                )
            if local and await self._marker(key) == latest:
                return ()
            return await self._restore(key, latest, spec)

    async def _restore(self, key: str, ref: BlobRef, spec: ProvisionSpec) -> tuple[ProvisionNotice, ...]:
        quota, tenant = spec.limits.disk_bytes, spec.workspace_id
        path = await anyio.to_thread.run_sync(self._fresh, key, quota, tenant)
        try:
            await self.store.restore(ref, path, path.stat().st_uid)
        except SandboxError as exc:
            log.warning("restoring workspace %s from %s failed: %s", key, ref, exc.message)
            await anyio.to_thread.run_sync(self._fresh, key, quota, tenant)
            return (ProvisionNotice(NOTICE_TYPE, f"{exc.message}: the sandbox starts with an empty /workspace"),)
        await anyio.to_thread.run_sync(self._write_marker, key, ref)
        return ()

    def _fresh(self, key: str, quota: int, tenant: str) -> Path:
        """An empty workspace for ``key``, replacing any copy (and its marker), owned by a uid never used before."""
        disk = self.host.disk
        (self.markers / key).unlink(missing_ok=True)
        disk.remove_workspace(key)
        return disk.create_workspace(key, self.host.uids.allocate(), quota, tenant)

    async def save(self, session_id: str) -> ProvisionNotice | None:
        """Snapshot the session's workspace on this host, if it holds one (see the module docstring)."""
        key = Workspace.of_session(session_id).key
        async with self._locks.setdefault(session_id, anyio.Lock()):
            if await anyio.to_thread.run_sync(self.host.disk.owner, key) is None:
                return None
            base = await self._marker(key)
            try:
                saved = await self.store.save(session_id, self.host.disk.workspaces / key, base)
            except Exception as exc:  # any store's failure (disk, database, S3 client): the session goes on
                log.exception("saving the workspace of %s failed", session_id)
                return ProvisionNotice(NOTICE_TYPE, f"this turn's /workspace could not be saved ({type(exc).__name__})")
            if saved is None:
                log.warning("the workspace of %s on this host is stale (it ran elsewhere since): not saved", session_id)
                return None
            await anyio.to_thread.run_sync(self._write_marker, key, saved.ref)
            return None

    async def forget(self, session_id: str) -> None:
        key = Workspace.of_session(session_id).key
        await anyio.Path(self.markers / key).unlink(missing_ok=True)
        self._locks.pop(session_id, None)

    async def _marker(self, key: str) -> BlobRef | None:
        try:
            return BlobRef((await anyio.Path(self.markers / key).read_text()).strip())
        except FileNotFoundError:
            return None

    def _write_marker(self, key: str, ref: BlobRef) -> None:
        self.markers.mkdir(mode=0o700, exist_ok=True)
        partial = self.markers / f"{key}.partial"
        partial.write_text(ref)
        os.replace(partial, self.markers / key)

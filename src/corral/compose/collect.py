"""Orphaned blobs go: every ``COLLECT_EVERY_SECONDS`` the blob store deletes the blobs no row references.

``live`` must name every blob any row holds: ``live_blobs`` joins, by ``union``, files and skill versions
(``FileStore.live_refs``, ``SkillStore.live_refs``), the skill versions live sessions are pinned to
(``corral.resources.skills.pinned_refs``) and every blob of each session's latest workspace snapshot, its manifest
and chunks (``WorkspaceStore.live_refs``); a new owner of blobs joins there.
``GRACE_SECONDS`` is the blob store's ``older_than``: a blob younger than that is kept even unreferenced, so an
upload whose row commits within it is never lost (the rule of ``corral.blobs.base``). A failed collection is
logged and tried again at the next round; it never stops the server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio

from corral.blobs import BlobRef, BlobStore, LiveRefs
from corral.files import FileStore
from corral.resources.skills import pinned_refs
from corral.sandbox.workspaces import WorkspaceStore
from corral.session import SessionStore
from corral.skills import SkillStore

COLLECT_EVERY_SECONDS = 3600.0
GRACE_SECONDS = 3600.0
log = logging.getLogger("corral.blobs")


def union(*owners: LiveRefs) -> LiveRefs:
    """One ``LiveRefs`` naming every blob any of ``owners`` names."""

    async def live() -> AsyncIterator[BlobRef]:
        for owner in owners:
            async for ref in owner():
                yield ref

    return live


def live_blobs(files: FileStore, skills: SkillStore, sessions: SessionStore, workspaces: WorkspaceStore) -> LiveRefs:
    """Every blob some row holds (the module docstring)."""
    return union(files.live_refs, skills.live_refs, pinned_refs(sessions), workspaces.live_refs())


async def collect_forever(blobs: BlobStore, live: LiveRefs) -> None:
    while True:
        await anyio.sleep(COLLECT_EVERY_SECONDS)
        try:
            removed = await blobs.collect(live, older_than=GRACE_SECONDS)
        except Exception:  # any backend's failure (disk, S3 client): a bad round must not end the server
            log.exception("blob collection failed; trying again in %.0f s", COLLECT_EVERY_SECONDS)
        else:
            log.info("blob collection removed %d orphaned blobs", removed)

"""Orphaned blobs go: every ``COLLECT_EVERY_SECONDS`` the blob store deletes the blobs no row references.

``live`` must name every blob any row holds (today: files and skill versions, ``FileStore.live_refs`` and
``SkillStore.live_refs``, and the skill versions live sessions are pinned to, ``corral.resources.skills.pinned_refs``,
joined by ``union``; a new owner of blobs, such as session outputs, joins the union).
``GRACE_SECONDS`` is the blob store's ``older_than``: a blob younger than that is kept even unreferenced, so an
upload whose row commits within it is never lost (the rule of ``corral.blobs.base``). A failed collection is
logged and tried again at the next round; it never stops the server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio

from corral.blobs import BlobRef, BlobStore, LiveRefs

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


async def collect_forever(blobs: BlobStore, live: LiveRefs) -> None:
    while True:
        await anyio.sleep(COLLECT_EVERY_SECONDS)
        try:
            removed = await blobs.collect(live, older_than=GRACE_SECONDS)
        except Exception:  # any backend's failure (disk, S3 client): a bad round must not end the server
            log.exception("blob collection failed; trying again in %.0f s", COLLECT_EVERY_SECONDS)
        else:
            log.info("blob collection removed %d orphaned blobs", removed)

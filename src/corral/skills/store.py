"""``SkillStore``: skill and version rows on any ``Database`` engine, each version's files one zip in a ``BlobStore``.

An upload is built first (``builder()``, a ``corral.skills.archive.Builder``: the parts checked and zipped on a
temporary file as they arrive), then ``create`` or ``add_version`` streams the archive into the blob store and
commits the rows right away (within the blob store's collection grace). A refused upload stores nothing; a
request that fails between the blob and the row leaves an orphan that ``collect`` removes.

Ids: ``skill_…`` and ``skillver_…``; a version is also addressed as ``latest``. The Anthropic-provided skills
(``xlsx``, ``docx``, ``pptx``, ``pdf``) do not exist on this server: naming one is a 400 that says so, any other
id that is not a ``skill_…`` is a 404 like a missing one. Every verb sees only the caller's workspace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path

from corral.blobs import BlobRef, BlobStore
from corral.db import Database
from corral.db.pages import cursor_from
from corral.errors import ErrorCode, InvalidRequest
from corral.ids import is_id, new_id, now, rfc3339
from corral.paging import Page
from corral.skills import _rows
from corral.skills.archive import Builder
from corral.skills.records import SkillRecord, VersionRecord

ANTHROPIC_SKILLS = frozenset({"xlsx", "docx", "pptx", "pdf"})
MAX_DISPLAY_NAME_CHARS = 255
SOURCES = ("custom", "anthropic", "anthropic_example", "plugin")


def anthropic_unsupported(skill_id: str) -> InvalidRequest:
    return InvalidRequest(
        f"Anthropic-provided skills (such as {skill_id!r}) are not available on this server; only custom skills"
        " (skill_…, created with POST /v1/skills) are",
        code=ErrorCode.NOT_SUPPORTED,
    )


def skill_id_of(skill_id: str) -> str:
    if skill_id in ANTHROPIC_SKILLS:
        raise anthropic_unsupported(skill_id)
    if not is_id("skill", skill_id):
        raise _rows.missing(skill_id)
    return skill_id


def _version_of(skill_id: str, version: str) -> str:
    if version != "latest" and not is_id("skill_version", version):
        raise _rows.version_missing(skill_id, version)
    return version


def display_name_of(sent: str | None, name: str) -> str:
    if sent is None or not sent.strip():
        return name
    if len(sent) > MAX_DISPLAY_NAME_CHARS or "\n" in sent or "\r" in sent:
        raise InvalidRequest(f"display_name: one line of at most {MAX_DISPLAY_NAME_CHARS} characters")
    return sent


class SkillStore:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        max_bytes: int | None = None,
        spool_dir: Path | None = None,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.max_bytes = max_bytes
        self.spool_dir = spool_dir
        self.clock = clock

    def builder(self) -> Builder:
        """A new upload's archive (``async with``): feed it the parts, then pass it to ``create``/``add_version``."""
        return Builder(max_bytes=self.max_bytes, spool_dir=self.spool_dir)

    async def _stored(self, workspace_id: str, skill_id: str, upload: Builder) -> VersionRecord:
        bundle = await upload.finish()
        ref = await self.blobs.put(upload.chunks(), limit=self.max_bytes)
        return VersionRecord(
            id=new_id("skill_version"),
            skill_id=skill_id,
            workspace_id=workspace_id,
            name=bundle.name,
            description=bundle.description,
            blob_ref=ref,
            size_bytes=bundle.size,
            created_at=rfc3339(self.clock()),
        )

    async def create(self, workspace_id: str, display_name: str | None, upload: Builder) -> SkillRecord:
        version = await self._stored(workspace_id, new_id("skill"), upload)
        skill = SkillRecord(
            id=version.skill_id,
            workspace_id=workspace_id,
            name=version.name,
            display_name=display_name_of(display_name, version.name),
            latest_version_id=version.id,
            created_at=version.created_at,
            updated_at=version.created_at,
        )
        return await self.db.write(_rows.create, skill, version)

    async def add_version(self, workspace_id: str, skill_id: str, upload: Builder) -> VersionRecord:
        await self.get(workspace_id, skill_id)  # a 404 before the archive is stored
        version = await self._stored(workspace_id, skill_id, upload)
        return await self.db.write(_rows.add_version, version)

    async def get(self, workspace_id: str, skill_id: str) -> SkillRecord:
        return await self.db.read(_rows.get, skill_id_of(skill_id), workspace_id)

    async def delete(self, workspace_id: str, skill_id: str) -> None:
        """The skill and all its versions; their blobs are left to ``collect``."""
        await self.db.write(_rows.delete, skill_id_of(skill_id), workspace_id)

    async def list(self, workspace_id: str, *, source: str | None, limit: int | None, page: str | None) -> Page:
        """Newest first. Every skill here is ``custom``: another ``source`` lists nothing."""
        if source is not None and source not in SOURCES:
            raise InvalidRequest(f"source: one of {', '.join(SOURCES)}, got {source[:40]!r}")
        cursor = cursor_from(page, _rows.SCOPE)
        if source not in (None, "custom"):
            return Page([], None)
        return await self.db.read(_rows.page, workspace_id, 20 if limit is None else limit, cursor)

    async def version(self, workspace_id: str, skill_id: str, version: str) -> VersionRecord:
        skill_id = skill_id_of(skill_id)
        return await self.db.read(_rows.get_version, skill_id, workspace_id, _version_of(skill_id, version))

    async def delete_version(self, workspace_id: str, skill_id: str, version: str) -> str:
        skill_id = skill_id_of(skill_id)
        return await self.db.write(_rows.delete_version, skill_id, workspace_id, _version_of(skill_id, version))

    async def versions(self, workspace_id: str, skill_id: str, *, limit: int | None, page: str | None) -> Page:
        skill_id = skill_id_of(skill_id)
        scope = f"{_rows.SCOPE}:{skill_id}"
        cursor = cursor_from(page, scope)
        return await self.db.read(
            _rows.version_page, skill_id, workspace_id, 20 if limit is None else limit, cursor, scope
        )

    async def content(
        self, workspace_id: str, skill_id: str, version: str
    ) -> tuple[VersionRecord, AbstractAsyncContextManager[AsyncIterator[bytes]]]:
        """The version and its zip archive to open (``async with``), once it is known to be there."""
        record = await self.version(workspace_id, skill_id, version)
        await self.blobs.stat(record.blob_ref)
        return record, self.blobs.open(record.blob_ref)

    async def live_refs(self) -> AsyncIterator[BlobRef]:
        """Every blob a version names (a ``LiveRefs`` for ``BlobStore.collect``)."""
        for ref in await self.db.read(_rows.live):
            yield ref

"""``SkillStore`` on the real engines and a local blob store: the blobs ``collect`` may remove (deleted versions'
and skills' archives, unless a live version holds the same bytes), and the union of owners the server collects
with (``corral.compose.collect.union``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from corral.blobs.local import LocalBlobStore
from corral.compose.collect import union
from corral.db import Database
from corral.files import FileStore, Upload
from corral.skills import SkillStore
from tests.skills.conftest import skill_md

pytestmark = pytest.mark.anyio
WORKSPACE = "wrkspc_test"


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def add(skills: SkillStore, name: str, description: str, skill_id: str | None = None) -> tuple[str, str]:
    """``(skill id, version id)`` of a new skill, or of a new version of ``skill_id``."""
    async with skills.builder() as upload:
        await upload.add(f"{name}/SKILL.md", chunks(skill_md(name, description)))
        if skill_id is None:
            made = await skills.create(WORKSPACE, None, upload)
            return made.id, made.latest_version_id
        return skill_id, (await skills.add_version(WORKSPACE, skill_id, upload)).id


async def test_deleted_versions_and_skills_leave_their_blobs_to_collection(database: Database, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    skills = SkillStore(database, blobs)
    skill_id, first = await add(skills, "kept", "one")
    _, same = await add(skills, "kept", "one", skill_id)  # the same files: the same archive, one blob
    _, other = await add(skills, "kept", "two", skill_id)
    assert (await skills.version(WORKSPACE, skill_id, first)).blob_ref == (
        await skills.version(WORKSPACE, skill_id, same)
    ).blob_ref
    await skills.delete_version(WORKSPACE, skill_id, first)
    assert await blobs.collect(skills.live_refs, older_than=0) == 0  # "same" still holds those bytes
    await skills.delete_version(WORKSPACE, skill_id, other)
    assert await blobs.collect(skills.live_refs, older_than=0) == 1
    gone_id, _ = await add(skills, "gone", "three")
    await skills.delete(WORKSPACE, gone_id)
    assert await blobs.collect(skills.live_refs, older_than=0) == 1
    assert (await skills.get(WORKSPACE, skill_id)).latest_version_id == same


async def test_the_server_collects_with_every_owner_of_blobs(database: Database, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    skills, files = SkillStore(database, blobs), FileStore(database, blobs)
    await add(skills, "owned", "by a skill")
    stored = await files.put(chunks(b"owned by a file"))
    await files.create(WORKSPACE, Upload("a.txt", "text/plain"), stored)
    assert await blobs.collect(union(files.live_refs, skills.live_refs), older_than=0) == 0
    assert await blobs.collect(files.live_refs, older_than=0) == 1  # without the skills, their blob would go

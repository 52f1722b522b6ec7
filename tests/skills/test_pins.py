"""The blobs of the skill versions sessions are pinned to (``corral.resources.skills.pinned_refs``) on the real
engines: a deleted skill's archive stays while a session that is not terminated uses it, and goes with the last
such session; unpacking a version refuses archives that would write outside their directory."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from corral._types import JSONObject
from corral.blobs import BlobRef
from corral.blobs.local import LocalBlobStore
from corral.compose.collect import union
from corral.db import Database
from corral.errors import InvalidRequest
from corral.resources.skills import SKILLS_KEY, pin, pinned_refs
from corral.session import NewSession, SessionStore
from corral.skills import SkillStore
from corral.skills.unpack import unpack
from tests.skills.conftest import skill_md
from tests.skills.test_store import WORKSPACE, add

pytestmark = pytest.mark.anyio


async def test_a_live_session_keeps_its_pinned_skill_bytes(database: Database, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    skills, sessions = SkillStore(database, blobs), SessionStore(database)
    try:
        skill_id, version = await add(skills, "pinned", "kept while used")
        pins = await pin(skills, WORKSPACE, {"skills": [{"type": "custom", "skill_id": skill_id, "version": "latest"}]})
        assert [(each["skill_id"], each["version"], each["name"]) for each in pins] == [(skill_id, version, "pinned")]
        doc: JSONObject = {"agent": {}, SKILLS_KEY: pins}
        made, _ = await sessions.create_session(NewSession(WORKSPACE, "agent_x", 1, "env_x", doc, []))
        await skills.delete(WORKSPACE, skill_id)
        live = union(skills.live_refs, pinned_refs(sessions))
        assert await blobs.collect(live, older_than=0) == 0
        await blobs.stat(BlobRef(pins[0]["blob_ref"]))  # still there
        await sessions.archive_session(made.id, WORKSPACE)  # terminated: nothing will mount it again
        assert await blobs.collect(live, older_than=0) == 1
    finally:
        await sessions.aclose()


def _archive(*names: str) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tool/SKILL.md", skill_md("tool"))
        for name in names:
            archive.writestr(name, b"x")
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("name", ["tool/../escape", "/etc/escape", "other/x", "tool/a\\b"])
def test_unpacking_refuses_paths_outside_the_skill(tmp_path: Path, name: str) -> None:
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(InvalidRequest):
        unpack(_archive(name), into, "tool")
    assert not (tmp_path / "escape").exists() and not Path("/etc/escape").exists()


def test_unpacking_refuses_symlinks(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tool/SKILL.md", skill_md("tool"))
        link = zipfile.ZipInfo("tool/link")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(InvalidRequest, match="not a regular file"):
        unpack(buffer, tmp_path, "tool")

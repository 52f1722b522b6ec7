"""Skills in sessions (api.md §14): an agent's skills pinned to versions when a session starts, their files shown
read-only at ``/workspace/skills/<name>/`` in the session's sandboxes, and the bytes those pins hold kept.

Invariants:

* ``check`` (agent writes) and ``pin`` (session creation) accept only custom skills of the caller's workspace:
  an Anthropic-provided one is a 400 naming it, a skill or pinned version that does not exist a 404.
* A session is pinned once, at creation: its agent snapshot's ``skills`` carry concrete version ids (never
  ``latest``), and its doc holds under ``SKILLS_KEY`` what the runtime needs of each (id, version, name,
  description, blob): the wire never shows that key (``corral.api.session_wire`` lists its fields), and the
  harness renders the system prompt's skills section from it. Later skill changes, deletion included, never
  alter a session that started.
* ``pinned_refs`` names every blob a session that is not terminated is pinned to, so the collector keeps a
  deleted skill's bytes while a session still uses them.
* A version's files are unpacked once per blob (content-addressed, under the provider's ``mount_root``) into a
  fresh directory renamed into place, so a sandbox never mounts a half-unpacked tree; the mount is read-only.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TypedDict, cast

import anyio.to_thread

from corral._types import JSONObject, json_list
from corral.blobs import BlobRef, BlobStore, LiveRefs
from corral.catalog.agent_skills import refuse_anthropic
from corral.catalog.params.agents import SkillParams
from corral.errors import NotFound
from corral.resources.records import SessionReader
from corral.sandbox.attach import Attachments, Mount, SessionAttachments
from corral.sandbox.base import ProvisionNotice
from corral.session import SessionStore
from corral.skills import SkillStore
from corral.skills.unpack import unpack
from corral.vocab.options import SESSION_SKILLS, SKILLS_DIR

SKILLS_KEY = SESSION_SKILLS
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
log = logging.getLogger("corral.resources")


class PinnedSkill(TypedDict):
    skill_id: str
    version: str
    name: str
    description: str
    blob_ref: str


async def check(store: SkillStore, workspace_id: str, skills: Sequence[SkillParams] | None) -> None:
    """An agent's ``skills`` as sent: each custom skill (and its pinned version) exists in the workspace."""
    refuse_anthropic(skills)
    for skill in skills or ():
        await store.version(workspace_id, skill.skill_id, skill.version or "latest")


async def pin(store: SkillStore, workspace_id: str, snapshot: Mapping[str, object]) -> list[PinnedSkill]:
    """The versions a new session's agent snapshot uses (its ``skills``: ``latest`` is the newest now)."""
    pinned: list[PinnedSkill] = []
    for entry in cast(list[JSONObject], json_list(snapshot.get("skills")) or []):
        version = await store.version(workspace_id, str(entry["skill_id"]), str(entry.get("version") or "latest"))
        pinned.append(
            PinnedSkill(
                skill_id=version.skill_id,
                version=version.id,
                name=version.name,
                description=version.description,
                blob_ref=version.blob_ref,
            )
        )
    return pinned


def pinned_wire(pinned: Sequence[PinnedSkill]) -> list[JSONObject]:
    """The snapshot's ``skills`` (``BetaManagedAgentsCustomSkill``) for ``pinned``."""
    return [{"type": "custom", "skill_id": each["skill_id"], "version": each["version"]} for each in pinned]


def pins_of(doc: Mapping[str, object]) -> list[PinnedSkill]:
    return cast(list[PinnedSkill], json_list(doc.get(SKILLS_KEY)) or [])


def pinned_refs(sessions: SessionStore) -> LiveRefs:
    """Every blob a session that is not terminated is pinned to (a ``LiveRefs`` for ``BlobStore.collect``)."""

    async def live() -> AsyncIterator[BlobRef]:
        async for doc in sessions.live_docs(SKILLS_KEY):
            for each in pins_of(doc):
                yield BlobRef(each["blob_ref"])

    return live


class SkillAttachments(SessionAttachments):
    """Each pinned skill of a session, unpacked under ``root`` and mounted read-only at ``/workspace/skills/<name>``."""

    def __init__(self, sessions: SessionReader, blobs: BlobStore, root: Path) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self.cache = root / "skills"
        self._notices: dict[str, list[ProvisionNotice]] = {}

    async def attachments(self, workspace_id: str, session_id: str) -> Attachments:
        record = await self.sessions.get_session(session_id, workspace_id)
        mounts: list[Mount] = []
        for each in pins_of(record.doc):
            try:
                folder = await self._unpacked(BlobRef(each["blob_ref"]), each["name"])
            except NotFound:  # its bytes are gone (a store restored from an older backup): run without it
                log.warning("session %s: skill %s %s has no files", session_id, each["skill_id"], each["version"])
                self._notices.setdefault(session_id, []).append(_missing(each))
                continue
            mounts.append(Mount(str(folder / each["name"]), f"{SKILLS_DIR}/{each['name']}", read_only=True))
        return Attachments(mounts=tuple(mounts))

    def take_notices(self, session_id: str) -> list[ProvisionNotice]:
        return self._notices.pop(session_id, [])

    async def _unpacked(self, ref: BlobRef, name: str) -> Path:
        """The directory ``ref``'s archive is unpacked in (``<dir>/<name>/…``), unpacked now if it is not yet."""
        match = _DIGEST.fullmatch(ref)
        if match is None:
            raise ValueError(f"not a blob reference: {ref[:80]!r}")
        final = self.cache / match.group(1)
        if await anyio.to_thread.run_sync(final.is_dir):
            return final
        await anyio.to_thread.run_sync(lambda: self.cache.mkdir(mode=0o755, parents=True, exist_ok=True))
        spool = await anyio.to_thread.run_sync(_spool, self.cache)
        try:
            async with self.blobs.open(ref) as chunks:
                async for chunk in chunks:
                    await anyio.to_thread.run_sync(spool.write, chunk)
            await anyio.to_thread.run_sync(_place, spool, final, name)
        finally:
            await anyio.to_thread.run_sync(spool.close)
        return final


def _spool(folder: Path) -> IO[bytes]:
    return tempfile.TemporaryFile(dir=folder)


def _place(spool: IO[bytes], final: Path, name: str) -> None:
    """Unpack ``spool`` into a fresh directory beside ``final``, then rename it into place (another worker may
    have placed the same bytes meanwhile: then its tree is kept and ours dropped)."""
    spool.seek(0)
    fresh = final.with_name(f".unpacking-{secrets.token_hex(8)}")
    fresh.mkdir(mode=0o755)
    fresh.chmod(0o755)
    try:
        unpack(spool, fresh, name)
        fresh.rename(final)
    except OSError:
        if not final.is_dir():
            raise
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def _missing(each: PinnedSkill) -> ProvisionNotice:
    return ProvisionNotice(
        "unknown_error",
        f"skill {each['name']} ({each['skill_id']}, version {each['version']}): its files are no longer stored;"
        " the session continues without them",
    )

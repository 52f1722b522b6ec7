"""Skill and version rows as flows that run on either engine.

Invariants: every read names the workspace, so another workspace's skill is a 404 like a missing one; a skill's
``latest_version_id`` names its newest version after every write; a skill always holds at least one version
(deleting the last one is refused; deleting the skill deletes its versions with it); lists are newest first by
``(created_at, id)`` and page by keyset (``corral.db.pages``).
"""

from __future__ import annotations

from corral.blobs import BlobRef
from corral.db import Flow, Row, UniqueViolation, Where, all_rows, exec_, one
from corral.db.pages import newest_first
from corral.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from corral.paging import Cursor, Page
from corral.skills.records import SKILL_COLUMNS, VERSION_COLUMNS, SkillRecord, VersionRecord

SCOPE = "skills"


def missing(skill_id: str) -> NotFound:
    return NotFound(f"skill {skill_id} not found")


def version_missing(skill_id: str, version: str) -> NotFound:
    return NotFound(f"version {version} of skill {skill_id} not found")


def get(skill_id: str, workspace_id: str) -> Flow[SkillRecord]:
    row = yield one(f"SELECT {SKILL_COLUMNS} FROM skills WHERE id = $1", skill_id)
    if row is None or row["workspace_id"] != workspace_id:
        raise missing(skill_id)
    return SkillRecord.from_row(row)


def _insert_version(version: VersionRecord) -> Flow[None]:
    yield exec_(
        f"INSERT INTO skill_versions ({VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        version.id,
        version.skill_id,
        version.workspace_id,
        version.name,
        version.description,
        version.blob_ref,
        version.size_bytes,
        version.created_at,
    )
    return None


def _taken(name: str, holder: str) -> Conflict:
    return Conflict(
        f"a skill named {name!r} already exists{holder}; add a version to it instead", code=ErrorCode.SKILL_NAME_TAKEN
    )


def create(skill: SkillRecord, version: VersionRecord) -> Flow[SkillRecord]:
    taken = yield one("SELECT id FROM skills WHERE workspace_id = $1 AND name = $2", skill.workspace_id, skill.name)
    if taken is not None:
        raise _taken(skill.name, f" ({taken['id']})")
    try:
        yield exec_(
            f"INSERT INTO skills ({SKILL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            skill.id,
            skill.workspace_id,
            skill.name,
            skill.display_name,
            skill.latest_version_id,
            skill.created_at,
            skill.updated_at,
        )
    except UniqueViolation:  # a concurrent create of the same name committed first
        raise _taken(skill.name, "") from None
    yield from _insert_version(version)
    return skill


def add_version(version: VersionRecord) -> Flow[VersionRecord]:
    skill = yield from get(version.skill_id, version.workspace_id)
    if version.name != skill.name:
        raise InvalidRequest(
            f"this upload's skill is named {version.name!r}, but skill {skill.id} is {skill.name!r}: a skill's"
            " name (its top-level directory) never changes",
            code=ErrorCode.SKILL_INVALID,
        )
    yield from _insert_version(version)
    yield exec_(
        "UPDATE skills SET latest_version_id = $1, updated_at = $2 WHERE id = $3",
        version.id,
        version.created_at,
        skill.id,
    )
    return version


def delete(skill_id: str, workspace_id: str) -> Flow[None]:
    yield from get(skill_id, workspace_id)
    yield exec_("DELETE FROM skill_versions WHERE skill_id = $1", skill_id)
    yield exec_("DELETE FROM skills WHERE id = $1", skill_id)
    return None


def get_version(skill_id: str, workspace_id: str, version: str) -> Flow[VersionRecord]:
    skill = yield from get(skill_id, workspace_id)
    wanted = skill.latest_version_id if version == "latest" else version
    row = yield one(f"SELECT {VERSION_COLUMNS} FROM skill_versions WHERE id = $1 AND skill_id = $2", wanted, skill_id)
    if row is None:
        raise version_missing(skill_id, version)
    return VersionRecord.from_row(row)


def delete_version(skill_id: str, workspace_id: str, version: str) -> Flow[str]:
    """Delete one version (``latest`` allowed); the id deleted."""
    gone = yield from get_version(skill_id, workspace_id, version)
    rows: list[Row] = yield all_rows(
        "SELECT id FROM skill_versions WHERE skill_id = $1 AND id <> $2 ORDER BY created_at DESC, id DESC LIMIT 1",
        skill_id,
        gone.id,
    )
    if not rows:
        raise InvalidRequest(
            f"{gone.id} is the only version of skill {skill_id}; a skill holds at least one version: delete the"
            " skill instead",
            code=ErrorCode.SKILL_INVALID,
        )
    yield exec_("DELETE FROM skill_versions WHERE id = $1", gone.id)
    yield exec_("UPDATE skills SET latest_version_id = $1 WHERE id = $2", str(rows[0]["id"]), skill_id)
    return gone.id


def page(workspace_id: str, limit: int, cursor: Cursor | None) -> Flow[Page]:
    where = Where().equals("workspace_id", workspace_id)
    return (yield from newest_first("skills", SKILL_COLUMNS, where, limit, cursor, SCOPE, SkillRecord.from_row))


def version_page(skill_id: str, workspace_id: str, limit: int, cursor: Cursor | None, scope: str) -> Flow[Page]:
    yield from get(skill_id, workspace_id)
    where = Where().equals("skill_id", skill_id)
    return (
        yield from newest_first("skill_versions", VERSION_COLUMNS, where, limit, cursor, scope, VersionRecord.from_row)
    )


def live() -> Flow[list[BlobRef]]:
    rows: list[Row] = yield all_rows("SELECT DISTINCT blob_ref FROM skill_versions")
    return [BlobRef(str(row["blob_ref"])) for row in rows]

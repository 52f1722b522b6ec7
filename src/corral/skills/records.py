"""Skill and skill-version rows as immutable records, and their wire forms (``BetaSkill``, ``BetaSkillVersion``)."""

from __future__ import annotations

from dataclasses import dataclass

from corral._types import JSONObject
from corral.blobs import BlobRef
from corral.db import Row

SKILL_COLUMNS = "id, workspace_id, name, display_name, latest_version_id, created_at, updated_at"
VERSION_COLUMNS = "id, skill_id, workspace_id, name, description, blob_ref, size_bytes, created_at"


@dataclass(frozen=True)
class SkillRecord:
    id: str
    workspace_id: str
    name: str
    display_name: str
    latest_version_id: str
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: Row) -> SkillRecord:
        return cls(**{key: str(row[key]) for key in SKILL_COLUMNS.split(", ")})

    def wire(self) -> JSONObject:
        return {
            "type": "skill",
            "id": self.id,
            "display_name": self.display_name,
            "latest_version_id": self.latest_version_id,
            "source": {"type": "custom"},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class VersionRecord:
    id: str
    skill_id: str
    workspace_id: str
    name: str
    description: str
    blob_ref: BlobRef
    size_bytes: int
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> VersionRecord:
        return cls(
            id=str(row["id"]),
            skill_id=str(row["skill_id"]),
            workspace_id=str(row["workspace_id"]),
            name=str(row["name"]),
            description=str(row["description"]),
            blob_ref=BlobRef(str(row["blob_ref"])),
            size_bytes=int(row["size_bytes"]),
            created_at=str(row["created_at"]),
        )

    def wire(self) -> JSONObject:
        return {
            "type": "skill_version",
            "id": self.id,
            "skill_id": self.skill_id,
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at,
        }

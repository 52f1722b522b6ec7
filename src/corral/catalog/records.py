"""Catalog rows as immutable records, and their wire form (``BetaManagedAgentsAgent``, ``BetaEnvironment``).

Invariant: ``doc`` is the resolved configuration exactly as stored (plus ``updated_at``); the wire form adds
only identity and lifecycle fields, so rendering never re-validates or re-resolves anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from corral._types import JSONObject
from corral.catalog.agent_config import CONFIG_FIELDS, CORRAL, SNAPSHOT_FIELDS


@dataclass(frozen=True)
class Principal:
    """Who is calling: the workspace every object they touch must belong to."""

    workspace_id: str
    key_id: str | None
    admin: bool = False


@dataclass(frozen=True)
class AgentRecord:
    id: str
    workspace_id: str
    version: int
    doc: JSONObject
    created_at: str
    archived_at: str | None

    @classmethod
    def from_row(cls, row: Any, *, version: int | None = None, doc: str | None = None) -> AgentRecord:
        """An ``agents`` row; ``version``/``doc`` from ``agent_versions`` when reading an older version."""
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            version=int(row["version"] if version is None else version),
            doc=json.loads(row["doc"] if doc is None else doc),
            created_at=row["created_at"],
            archived_at=row["archived_at"],
        )

    @property
    def config(self) -> JSONObject:
        """The stored configuration (with corral's ``corral`` object when it is set)."""
        config = {field: self.doc.get(field) for field in CONFIG_FIELDS}
        if self.doc.get(CORRAL) is not None:
            config[CORRAL] = self.doc[CORRAL]
        return config

    def wire(self) -> JSONObject:
        return {
            "type": "agent",
            "id": self.id,
            "version": self.version,
            **self.config,
            "created_at": self.created_at,
            "updated_at": self.doc["updated_at"],
            "archived_at": self.archived_at,
        }

    def snapshot(self) -> JSONObject:
        """The session's copy of this version (``BetaManagedAgentsSessionAgent``)."""
        return {
            "type": "agent",
            "id": self.id,
            "version": self.version,
            **{f: self.doc.get(f) for f in SNAPSHOT_FIELDS},
            **({CORRAL: self.doc[CORRAL]} if self.doc.get(CORRAL) is not None else {}),
        }


@dataclass(frozen=True)
class EnvironmentRecord:
    id: str
    workspace_id: str
    name: str
    doc: JSONObject
    created_at: str
    archived_at: str | None

    @classmethod
    def from_row(cls, row: Any) -> EnvironmentRecord:
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            name=row["name"],
            doc=json.loads(row["doc"]),
            created_at=row["created_at"],
            archived_at=row["archived_at"],
        )

    @property
    def config(self) -> JSONObject:
        return self.doc["config"]

    def wire(self) -> JSONObject:
        return {
            "type": "environment",
            "id": self.id,
            "name": self.name,
            "description": self.doc.get("description"),
            "config": self.config,
            "metadata": self.doc.get("metadata") or {},
            "scope": self.doc.get("scope") or "organization",
            "created_at": self.created_at,
            "updated_at": self.doc["updated_at"],
            "archived_at": self.archived_at,
        }

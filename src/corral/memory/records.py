"""Memory rows as immutable records, and their wire forms (``BetaManagedAgentsMemoryStore``, ``…Memory``,
``…MemoryPrefix``, ``…MemoryVersion``, the actors).

Invariants: ``content`` is rendered only with ``view="full"``; ``content_sha256`` and ``content_size_bytes`` of a
memory always are. A version that is redacted or records a deletion renders no content, hash nor size, and a
redacted one no path either (the row holds none).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from corral._types import JSONObject, json_object
from corral.db import Row

View = Literal["basic", "full"]
ACTOR_ID_FIELD: dict[str, str] = {
    "api_actor": "api_key_id",
    "session_actor": "session_id",
    "user_actor": "user_id",
    "service_account_actor": "service_account_id",
}

STORE_COLUMNS = "id, workspace_id, name, description, metadata, created_at, updated_at, archived_at"
MEMORY_COLUMNS = "id, store_id, path, content, content_sha256, content_size_bytes, version_id, created_at, updated_at"
VERSION_COLUMNS = (
    "id, store_id, memory_id, operation, path, content, content_sha256, content_size_bytes, actor_type, actor_id,"
    " created_at, redacted_at, redactor_type, redactor_id"
)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))


@dataclass(frozen=True)
class Actor:
    """Who made a change: ``api_actor`` with the API key's id (what API calls record)."""

    type: str
    id: str

    @classmethod
    def of(cls, kind: object, actor_id: object) -> Actor | None:
        return None if kind is None or actor_id is None else cls(str(kind), str(actor_id))

    def wire(self) -> JSONObject:
        return {"type": self.type, ACTOR_ID_FIELD[self.type]: self.id}


@dataclass(frozen=True)
class StoreRecord:
    id: str
    workspace_id: str
    name: str
    description: str
    metadata: dict[str, str]
    created_at: str
    updated_at: str
    archived_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> StoreRecord:
        metadata = json_object(json.loads(str(row["metadata"]))) or {}
        return cls(
            id=str(row["id"]),
            workspace_id=str(row["workspace_id"]),
            name=str(row["name"]),
            description=str(row["description"]),
            metadata={str(key): str(value) for key, value in metadata.items()},
            created_at=str(row["created_at"]),
            updated_at=str(row["updated_at"]),
            archived_at=_text(row["archived_at"]),
        )

    def wire(self) -> JSONObject:
        return {
            "type": "memory_store",
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "metadata": self.metadata,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "archived_at": self.archived_at,
        }


@dataclass(frozen=True)
class MemoryRecord:
    id: str
    store_id: str
    path: str
    content: str
    content_sha256: str
    content_size_bytes: int
    version_id: str
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: Row) -> MemoryRecord:
        return cls(
            id=str(row["id"]),
            store_id=str(row["store_id"]),
            path=str(row["path"]),
            content=str(row["content"]),
            content_sha256=str(row["content_sha256"]),
            content_size_bytes=int(row["content_size_bytes"]),
            version_id=str(row["version_id"]),
            created_at=str(row["created_at"]),
            updated_at=str(row["updated_at"]),
        )

    def wire(self, view: View) -> JSONObject:
        return {
            "type": "memory",
            "id": self.id,
            "memory_store_id": self.store_id,
            "memory_version_id": self.version_id,
            "path": self.path,
            "content": self.content if view == "full" else None,
            "content_sha256": self.content_sha256,
            "content_size_bytes": self.content_size_bytes,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class PrefixItem:
    """A ``memory_prefix`` of a list: the directory that stands for the memories below the listed depth."""

    path: str

    def wire(self, view: View) -> JSONObject:
        return {"type": "memory_prefix", "path": self.path}


@dataclass(frozen=True)
class VersionRecord:
    id: str
    store_id: str
    memory_id: str
    operation: str
    path: str | None
    content: str | None
    content_sha256: str | None
    content_size_bytes: int | None
    created_by: Actor | None
    created_at: str
    redacted_at: str | None
    redacted_by: Actor | None

    @classmethod
    def from_row(cls, row: Row) -> VersionRecord:
        return cls(
            id=str(row["id"]),
            store_id=str(row["store_id"]),
            memory_id=str(row["memory_id"]),
            operation=str(row["operation"]),
            path=_text(row["path"]),
            content=_text(row["content"]),
            content_sha256=_text(row["content_sha256"]),
            content_size_bytes=_int(row["content_size_bytes"]),
            created_by=Actor.of(row["actor_type"], row["actor_id"]),
            created_at=str(row["created_at"]),
            redacted_at=_text(row["redacted_at"]),
            redacted_by=Actor.of(row["redactor_type"], row["redactor_id"]),
        )

    def wire(self, view: View) -> JSONObject:
        return {
            "type": "memory_version",
            "id": self.id,
            "memory_id": self.memory_id,
            "memory_store_id": self.store_id,
            "operation": self.operation,
            "path": self.path,
            "content": self.content if view == "full" else None,
            "content_sha256": self.content_sha256,
            "content_size_bytes": self.content_size_bytes,
            "created_by": None if self.created_by is None else self.created_by.wire(),
            "created_at": self.created_at,
            "redacted_at": self.redacted_at,
            "redacted_by": None if self.redacted_by is None else self.redacted_by.wire(),
        }

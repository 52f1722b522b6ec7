"""Memory versions as flows that run on either engine: read, list (newest first), redact.

Invariants: a version belongs to its store and outlives its memory; only redaction changes it, nulling its path
and content (hash and size with them) and recording when and by whom; redacting a redacted version returns it
unchanged. Redaction is allowed on an archived store. A version of another store or workspace is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.db import Flow, Where, exec_, one
from corral.db.pages import newest_first
from corral.errors import NotFound
from corral.ids import is_id
from corral.memory import _stores
from corral.memory.records import VERSION_COLUMNS, Actor, VersionRecord
from corral.paging import Cursor, Page


@dataclass(frozen=True)
class VersionFilter:
    """``memory_versions.list``'s filters; None: any."""

    memory_id: str | None = None
    operation: str | None = None
    api_key_id: str | None = None
    session_id: str | None = None
    service_account_id: str | None = None
    created_gte: str | None = None
    created_lte: str | None = None

    def could_match(self) -> bool:
        """False when a filter names an id no version can hold (wrong kind, or a service account: corral has
        none), which is answered with an empty page, as an unknown id is."""
        shaped = (
            (self.memory_id, "memory"),
            (self.api_key_id, "api_key"),
            (self.session_id, "session"),
        )
        return self.service_account_id is None and all(value is None or is_id(kind, value) for value, kind in shaped)

    def apply(self, where: Where) -> Where:
        if self.memory_id is not None:
            where.equals("memory_id", self.memory_id)
        if self.operation is not None:
            where.equals("operation", self.operation)
        for actor_type, actor_id in (
            ("api_actor", self.api_key_id),
            ("session_actor", self.session_id),
            ("service_account_actor", self.service_account_id),
        ):
            if actor_id is not None:
                where.equals("actor_type", actor_type).equals("actor_id", actor_id)
        return where.within("created_at", gte=self.created_gte, lte=self.created_lte)


def scope_of(store_id: str) -> str:
    return f"memory_versions:{store_id}"


def select(version_id: str, store_id: str) -> Flow[VersionRecord]:
    row = yield one(f"SELECT {VERSION_COLUMNS} FROM memory_versions WHERE id = $1", version_id)
    if row is None or row["store_id"] != store_id:
        raise NotFound(f"memory version {version_id} not found")
    return VersionRecord.from_row(row)


def get(version_id: str, store_id: str, workspace_id: str) -> Flow[VersionRecord]:
    yield from _stores.select(store_id, workspace_id)
    return (yield from select(version_id, store_id))


def redact(version_id: str, store_id: str, workspace_id: str, actor: Actor | None, stamp: str) -> Flow[VersionRecord]:
    yield from _stores.select(store_id, workspace_id, lock=True)
    version = yield from select(version_id, store_id)
    if version.redacted_at is not None:
        return version
    yield exec_(
        "UPDATE memory_versions SET path = NULL, content = NULL, content_sha256 = NULL, content_size_bytes = NULL,"
        " redacted_at = $2, redactor_type = $3, redactor_id = $4 WHERE id = $1",
        version_id,
        stamp,
        None if actor is None else actor.type,
        None if actor is None else actor.id,
    )
    return (yield from select(version_id, store_id))


def page(store_id: str, workspace_id: str, filters: VersionFilter, limit: int, cursor: Cursor | None) -> Flow[Page]:
    yield from _stores.select(store_id, workspace_id)
    where = filters.apply(Where().equals("store_id", store_id))
    return (
        yield from newest_first(
            "memory_versions", VERSION_COLUMNS, where, limit, cursor, scope_of(store_id), VersionRecord.from_row
        )
    )

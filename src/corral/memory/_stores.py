"""Memory stores as flows that run on either engine.

Invariants:

* A store of another workspace is indistinguishable from one that does not exist (404).
* Archive is one-way; archiving an archived store returns it unchanged. An archived store accepts no update and
  no new or changed memory (400 ``memory_store_archived``); its memories can still be read and deleted, its
  versions redacted, and the store deleted.
* Every write to a store's memories first locks the store's row (``live`` / ``select(lock=True)``), so the writes
  of one store are serialised on both engines: a precondition is checked against the committed state, and no
  update is ever lost.
* Delete removes the store, its memories and all their versions in one transaction.
"""

from __future__ import annotations

import json

from corral.db import Flow, Where, exec_, insert, one
from corral.db.pages import newest_first
from corral.errors import ErrorCode, InvalidRequest, NotFound
from corral.memory.params import StoreUpdate
from corral.memory.records import STORE_COLUMNS, StoreRecord
from corral.outbox import record as webhook
from corral.paging import Cursor, Page
from corral.wire import patch_metadata

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
SCOPE = "memory_stores"


def missing(store_id: str) -> NotFound:
    return NotFound(f"memory store {store_id} not found")


def select(store_id: str, workspace_id: str, *, lock: bool = False) -> Flow[StoreRecord]:
    suffix = "{for_update}" if lock else ""
    row = yield one(f"SELECT {STORE_COLUMNS} FROM memory_stores WHERE id = $1{suffix}", store_id)
    if row is None or row["workspace_id"] != workspace_id:
        raise missing(store_id)
    return StoreRecord.from_row(row)


def live(store_id: str, workspace_id: str) -> Flow[StoreRecord]:
    """The store, locked, refusing an archived one (what creating or changing a memory needs)."""
    store = yield from select(store_id, workspace_id, lock=True)
    if store.archived_at is not None:
        raise InvalidRequest(f"memory store {store_id} is archived", code=ErrorCode.MEMORY_STORE_ARCHIVED)
    return store


def create(record: StoreRecord) -> Flow[StoreRecord]:
    yield insert(
        "memory_stores",
        {
            "id": record.id,
            "workspace_id": record.workspace_id,
            "name": record.name,
            "description": record.description,
            "metadata": _dumps(record.metadata),
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "archived_at": None,
        },
    )
    yield from webhook(record.workspace_id, "memory_store.created", record.id, record.created_at)
    return record


def update(store_id: str, workspace_id: str, params: StoreUpdate, stamp: str) -> Flow[StoreRecord]:
    current = yield from live(store_id, workspace_id)
    sent = params.model_fields_set
    name = current.name
    if "name" in sent:
        if params.name is None:
            raise InvalidRequest("name cannot be null: a memory store always has one")
        name = params.name
    description = current.description
    if "description" in sent:
        description = params.description or ""
    metadata = current.metadata
    if "metadata" in sent:
        metadata = patch_metadata(current.metadata, params.metadata)
    if (name, description, metadata) == (current.name, current.description, current.metadata):
        return current
    yield exec_(
        "UPDATE memory_stores SET name = $2, description = $3, metadata = $4, updated_at = $5 WHERE id = $1",
        store_id,
        name,
        description,
        _dumps(metadata),
        stamp,
    )
    return (yield from select(store_id, workspace_id))


def archive(store_id: str, workspace_id: str, stamp: str) -> Flow[StoreRecord]:
    store = yield from select(store_id, workspace_id, lock=True)
    if store.archived_at is not None:
        return store
    yield exec_("UPDATE memory_stores SET archived_at = $2, updated_at = $2 WHERE id = $1", store_id, stamp)
    yield from webhook(workspace_id, "memory_store.archived", store_id, stamp)
    return (yield from select(store_id, workspace_id))


def delete(store_id: str, workspace_id: str, stamp: str) -> Flow[None]:
    yield from select(store_id, workspace_id, lock=True)
    yield exec_("DELETE FROM memory_versions WHERE store_id = $1", store_id)
    yield exec_("DELETE FROM memories WHERE store_id = $1", store_id)
    yield exec_("DELETE FROM memory_stores WHERE id = $1", store_id)
    yield from webhook(workspace_id, "memory_store.deleted", store_id, stamp)
    return None


def page(
    workspace_id: str,
    include_archived: bool,
    created: tuple[str | None, str | None],
    limit: int,
    cursor: Cursor | None,
) -> Flow[Page]:
    where = Where().equals("workspace_id", workspace_id).within("created_at", gte=created[0], lte=created[1])
    if not include_archived:
        where.term("archived_at IS NULL")
    return (yield from newest_first("memory_stores", STORE_COLUMNS, where, limit, cursor, SCOPE, StoreRecord.from_row))

"""Environments: reusable sandbox templates, as flows that run on either engine.

Invariants:

* Names are unique per workspace (archived environments keep theirs): a duplicate is a 409 with
  ``x-should-retry: false`` and nothing is written.
* An archived environment accepts no update (400 ``environment_archived``) and no new session; archive is
  one-way.
* An environment is deleted only while no session references it (409 otherwise), checked in the same
  transaction as the delete.
* An environment of another workspace is indistinguishable from one that does not exist (404).
"""

from __future__ import annotations

import json

from corral._types import JSONObject
from corral.catalog.env_config import resolve_config
from corral.catalog.limits import ENV_NAME_MAX
from corral.catalog.params.environments import EnvironmentCreate, EnvironmentUpdate
from corral.catalog.records import EnvironmentRecord
from corral.db import Flow, Row, UniqueViolation, Where, all_rows, exec_, one
from corral.db.pages import newest_first
from corral.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from corral.outbox import record as webhook
from corral.paging import Cursor, Page
from corral.wire import patch_metadata

COLUMNS = "id, workspace_id, name, doc, created_at, archived_at"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _name(value: str | None) -> str:
    if value is None:
        raise InvalidRequest(f"name must be 1-{ENV_NAME_MAX} characters and not blank")
    return value


def resolve_new(params: EnvironmentCreate) -> JSONObject:
    """The stored doc of a new environment (without ``updated_at``)."""
    return {
        "name": params.name,
        "description": params.description,
        "config": resolve_config(params.config),
        "metadata": dict(params.metadata or {}),
        "scope": params.scope or "organization",
    }


def _resolve_update(stored: JSONObject, params: EnvironmentUpdate) -> JSONObject:
    sent = params.model_fields_set
    doc = {key: stored.get(key) for key in ("name", "description", "config", "metadata", "scope")}
    if "name" in sent:
        doc["name"] = _name(params.name)
    if "description" in sent:
        doc["description"] = params.description
    if "config" in sent:
        doc["config"] = resolve_config(params.config, stored["config"])
    if "metadata" in sent:
        doc["metadata"] = patch_metadata(stored.get("metadata") or {}, params.metadata, empty_deletes=True)
    if "scope" in sent:
        doc["scope"] = params.scope or "organization"
    return doc


def _missing(environment_id: str) -> NotFound:
    return NotFound(f"environment {environment_id} not found", code=ErrorCode.ENVIRONMENT_NOT_FOUND)


def _duplicate(name: str) -> Conflict:
    return Conflict(f"an environment named {name!r} already exists", code=ErrorCode.DUPLICATE_NAME)


def _select(environment_id: str, workspace_id: str, *, lock: bool = False) -> Flow[Row]:
    suffix = "{for_update}" if lock else ""
    row = yield one(f"SELECT {COLUMNS} FROM environments WHERE id = $1{suffix}", environment_id)
    if row is None or row["workspace_id"] != workspace_id:
        raise _missing(environment_id)
    return row


def _name_taken(workspace_id: str, name: str, environment_id: str) -> Flow[bool]:
    row = yield one(
        "SELECT id FROM environments WHERE workspace_id = $1 AND name = $2 AND id <> $3",
        workspace_id,
        name,
        environment_id,
    )
    return row is not None


def insert(environment_id: str, workspace_id: str, doc: JSONObject, stamp: str) -> Flow[EnvironmentRecord]:
    if (yield from _name_taken(workspace_id, doc["name"], environment_id)):
        raise _duplicate(doc["name"])
    try:
        yield exec_(
            f"INSERT INTO environments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL)",
            environment_id,
            workspace_id,
            doc["name"],
            _dumps({**doc, "updated_at": stamp}),
            stamp,
        )
    except UniqueViolation:
        raise _duplicate(doc["name"]) from None
    yield from webhook(workspace_id, "environment.created", environment_id, stamp)
    row = yield from _select(environment_id, workspace_id)
    return EnvironmentRecord.from_row(row)


def get(environment_id: str, workspace_id: str) -> Flow[EnvironmentRecord]:
    row = yield from _select(environment_id, workspace_id)
    return EnvironmentRecord.from_row(row)


def update(environment_id: str, workspace_id: str, params: EnvironmentUpdate, stamp: str) -> Flow[EnvironmentRecord]:
    row = yield from _select(environment_id, workspace_id, lock=True)
    current = EnvironmentRecord.from_row(row)
    if current.archived_at is not None:
        raise InvalidRequest(f"environment {environment_id} is archived", code=ErrorCode.ENVIRONMENT_ARCHIVED)
    stored = {key: value for key, value in current.doc.items() if key != "updated_at"}
    doc = _resolve_update(current.doc, params)
    if doc == stored:
        return current
    if doc["name"] != current.name and (yield from _name_taken(workspace_id, doc["name"], environment_id)):
        raise _duplicate(doc["name"])
    try:
        yield exec_(
            "UPDATE environments SET name = $2, doc = $3 WHERE id = $1",
            environment_id,
            doc["name"],
            _dumps({**doc, "updated_at": stamp}),
        )
    except UniqueViolation:
        raise _duplicate(doc["name"]) from None
    yield from webhook(workspace_id, "environment.updated", environment_id, stamp)
    row = yield from _select(environment_id, workspace_id)
    return EnvironmentRecord.from_row(row)


def archive(environment_id: str, workspace_id: str, stamp: str) -> Flow[EnvironmentRecord]:
    row = yield from _select(environment_id, workspace_id, lock=True)
    if row["archived_at"] is None:
        doc = {**json.loads(row["doc"]), "updated_at": stamp}
        yield exec_(
            "UPDATE environments SET archived_at = $2, doc = $3 WHERE id = $1", environment_id, stamp, _dumps(doc)
        )
        yield from webhook(workspace_id, "environment.archived", environment_id, stamp)
        row = yield from _select(environment_id, workspace_id)
    return EnvironmentRecord.from_row(row)


def delete(environment_id: str, workspace_id: str, stamp: str) -> Flow[None]:
    yield from _select(environment_id, workspace_id, lock=True)
    used = yield one("SELECT id FROM sessions WHERE environment_id = $1 LIMIT 1", environment_id)
    if used is not None:
        raise Conflict(
            f"environment {environment_id} is used by sessions (e.g. {used['id']}); delete them first",
            code=ErrorCode.ENVIRONMENT_IN_USE,
        )
    yield exec_("DELETE FROM environments WHERE id = $1", environment_id)
    yield from webhook(workspace_id, "environment.deleted", environment_id, stamp)
    return None


def page(workspace_id: str, include_archived: bool, limit: int, cursor: Cursor | None) -> Flow[Page]:
    where = Where().equals("workspace_id", workspace_id)
    if not include_archived:
        where.term("archived_at IS NULL")
    return (
        yield from newest_first(
            "environments", COLUMNS, where, limit, cursor, "environments", EnvironmentRecord.from_row
        )
    )


def live() -> Flow[list[EnvironmentRecord]]:
    """Every environment not archived, in any workspace (the sandbox side reads their warm-pool wishes)."""
    rows = yield all_rows(f"SELECT {COLUMNS} FROM environments WHERE archived_at IS NULL ORDER BY id")
    return [EnvironmentRecord.from_row(row) for row in rows]

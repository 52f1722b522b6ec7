"""A session's resources (``doc.resources``): the wire objects as the API returns them, changed atomically.

The API layer decides what a resource is (validating files, memory stores, repositories); this module only keeps
the list consistent under concurrent changes.

Invariants:

* Every change reads the session row under its lock (``FOR UPDATE`` on PostgreSQL, the writer lock on SQLite),
  applies one ``Edit`` to the list it holds and writes it back in the same transaction, so two concurrent adds
  never lose one another (no read-modify-write across transactions).
* The ``mount_path`` s of a session's resources are unique: an edit whose result repeats one is refused (400,
  naming the path) and nothing is written.
* An archived or terminated session's resources never change (400 ``session_terminated``).
* ``also`` (the token of a ``github_repository`` resource, say) runs in the same transaction, after the edit is
  accepted: both are written or neither.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace

from corral._types import JSONObject
from corral.db import Flow, Row, exec_
from corral.errors import ErrorCode, InvalidRequest, NotFound
from corral.session._log import select_session
from corral.session.records import SessionRecord

Resources = list[JSONObject]
Edit = Callable[[Resources], Resources]
"""The new list from the current one (a deep copy: edit it freely); raises a ``RequestError`` to refuse."""
Also = Callable[[], Flow[None]]
"""Another flow to run in the same transaction (a factory: an engine may run a transaction twice)."""

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def resources_of(doc: JSONObject) -> Resources:
    return list(doc.get("resources") or [])


def find(resources: Resources, resource_id: str) -> JSONObject:
    """The resource ``resource_id`` of the list; 404 when there is none."""
    for resource in resources:
        if resource.get("id") == resource_id:
            return resource
    raise NotFound(f"session resource {resource_id} not found")


def check_mounts(resources: Resources) -> None:
    """Refuse a list in which two resources share a ``mount_path``."""
    seen: set[str] = set()
    for resource in resources:
        path = resource.get("mount_path")
        if not isinstance(path, str):
            continue
        if path in seen:
            raise InvalidRequest(f"mount_path {path!r} is used by two resources of this session")
        seen.add(path)


def check_open(record: SessionRecord) -> None:
    if record.archived_at is not None or record.status == "terminated":
        raise InvalidRequest(
            f"session {record.id} is archived or terminated: its resources cannot change",
            code=ErrorCode.SESSION_TERMINATED,
        )


def edit(
    session_id: str, workspace_id: str, change: Edit, stamp: str, also: Also | None
) -> Flow[tuple[SessionRecord, Resources]]:
    """Apply ``change`` to the session's resources; returns the session as written and the new list."""
    row: Row | None = yield from select_session(session_id, lock=True)
    if row is None or row["workspace_id"] != workspace_id:
        raise NotFound(f"session {session_id} not found")
    record = SessionRecord.from_row(row)
    check_open(record)
    resources = change(copy.deepcopy(resources_of(record.doc)))
    check_mounts(resources)
    doc = {**record.doc, "resources": resources}
    yield exec_("UPDATE sessions SET doc = $2, updated_at = $3 WHERE id = $1", session_id, _dumps(doc), stamp)
    if also is not None:
        yield from also()
    return replace(record, doc=doc, updated_at=stamp), resources


def memory_store_rows(session_id: str, workspace_id: str, doc: JSONObject) -> list[tuple[str, str, str]]:
    """``(session_id, memory_store_id, workspace_id)`` for each memory store ``doc`` attaches."""
    stores = {str(r["memory_store_id"]) for r in resources_of(doc) if r.get("type") == "memory_store"}
    return [(session_id, store_id, workspace_id) for store_id in sorted(stores)]


def index_memory_stores(session_id: str, workspace_id: str, doc: JSONObject) -> Flow[None]:
    for values in memory_store_rows(session_id, workspace_id, doc):
        yield exec_(
            "INSERT INTO session_memory_stores (session_id, memory_store_id, workspace_id) VALUES ($1, $2, $3)",
            *values,
        )
    return None


def unindex(session_id: str) -> Flow[None]:
    yield exec_("DELETE FROM session_memory_stores WHERE session_id = $1", session_id)
    return None

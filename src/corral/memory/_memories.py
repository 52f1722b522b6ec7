"""Memories as flows that run on either engine: each write is one transaction that changes the memory's row and
adds the version recording the change.

Invariants:

* Every write locks the store's row first (``_stores.live`` / ``_stores.select(lock=True)``), so the writes of one
  store run one after the other: a ``content_sha256`` precondition is compared with the committed content, two
  writers with the same precondition cannot both win (the second gets a 409 and writes nothing), and an
  unconditional write is a new version, never a lost one.
* A memory's ``version_id`` is always the version that recorded its current state; ``created``, ``modified``
  and ``deleted`` versions are written in the same transaction as the change they record. A write that changes
  nothing writes nothing.
* A path is free only if no other memory has it, none of its directories is a memory (``/a`` blocks ``/a/b``) and
  it is not a directory of other memories (``/a/b`` blocks ``/a``): a store always mounts as a tree. A taken path
  is a 409 ``memory_path_conflict_error`` naming the memory in the way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from corral.db import Flow, Row, all_rows, exec_, insert, one
from corral.errors import MemoryPathConflict, MemoryPreconditionFailed, NotFound
from corral.ids import now, parse_rfc3339, rfc3339
from corral.memory import _stores, paths
from corral.memory.records import MEMORY_COLUMNS, Actor, MemoryRecord


@dataclass(frozen=True)
class Change:
    """A write's identity: the new version's id and who makes it. Its time is read once the store is locked, so
    the versions of a store are stamped in the order they commit."""

    version_id: str
    actor: Actor | None


def _stamp(after: str | None = None) -> str:
    """Now, as RFC 3339; strictly after ``after`` (the memory's last change) even if the clock has not moved."""
    stamp = now()
    if after is not None and rfc3339(stamp) <= after:
        stamp = parse_rfc3339(after) + timedelta(microseconds=1)
    return rfc3339(stamp)


def missing(memory_id: str) -> NotFound:
    return NotFound(f"memory {memory_id} not found")


def digest(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def select(memory_id: str, store_id: str) -> Flow[MemoryRecord]:
    row = yield one(f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = $1", memory_id)
    if row is None or row["store_id"] != store_id:
        raise missing(memory_id)
    return MemoryRecord.from_row(row)


def get(memory_id: str, store_id: str, workspace_id: str) -> Flow[MemoryRecord]:
    yield from _stores.select(store_id, workspace_id)
    return (yield from select(memory_id, store_id))


def _taken(store_id: str, path: str, own_id: str | None) -> Flow[None]:
    below = path + "/"
    rows: list[Row] = yield all_rows(
        "SELECT id, path FROM memories WHERE store_id = $1 AND (path = $2 OR (path >= $3 AND path < $4))",
        store_id,
        path,
        below,
        paths.upper(below),
    )
    for above in paths.ancestors(path):
        row = yield one("SELECT id, path FROM memories WHERE store_id = $1 AND path = $2", store_id, above)
        if row is not None:
            rows.append(row)
    for row in rows:
        if row["id"] != own_id:
            raise MemoryPathConflict(
                f"path {path} collides with memory {row['id']} at {row['path']}",
                details={"conflicting_memory_id": str(row["id"])},
            )
    return None


def _version(memory: MemoryRecord, operation: str, change: Change, stamp: str) -> Flow[None]:
    gone = operation == "deleted"
    yield insert(
        "memory_versions",
        {
            "id": change.version_id,
            "store_id": memory.store_id,
            "memory_id": memory.id,
            "operation": operation,
            "path": memory.path,
            "content": None if gone else memory.content,
            "content_sha256": None if gone else memory.content_sha256,
            "content_size_bytes": None if gone else memory.content_size_bytes,
            "actor_type": None if change.actor is None else change.actor.type,
            "actor_id": None if change.actor is None else change.actor.id,
            "created_at": stamp,
        },
    )
    return None


def _check(memory: MemoryRecord, expected_sha256: str | None) -> None:
    if expected_sha256 is not None and expected_sha256 != memory.content_sha256:
        raise MemoryPreconditionFailed(
            f"memory {memory.id} changed: its content_sha256 is {memory.content_sha256}, not {expected_sha256}"
        )


def create(
    store_id: str, workspace_id: str, memory_id: str, path: str, content: str, change: Change
) -> Flow[MemoryRecord]:
    yield from _stores.live(store_id, workspace_id)
    yield from _taken(store_id, path, None)
    stamp = _stamp()
    memory = MemoryRecord(
        id=memory_id,
        store_id=store_id,
        path=path,
        content=content,
        content_sha256=digest(content),
        content_size_bytes=len(content.encode("utf-8")),
        version_id=change.version_id,
        created_at=stamp,
        updated_at=stamp,
    )
    yield exec_(
        f"INSERT INTO memories ({MEMORY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        memory.id,
        memory.store_id,
        memory.path,
        memory.content,
        memory.content_sha256,
        memory.content_size_bytes,
        memory.version_id,
        memory.created_at,
        memory.updated_at,
    )
    yield from _version(memory, "created", change, stamp)
    return memory


def update(
    memory_id: str,
    store_id: str,
    workspace_id: str,
    wanted: tuple[str | None, str | None],
    expected_sha256: str | None,
    change: Change,
) -> Flow[MemoryRecord]:
    """Set the memory's ``(path, content)`` (None: keep), if its content still hashes to ``expected_sha256``."""
    yield from _stores.live(store_id, workspace_id)
    current = yield from select(memory_id, store_id)
    _check(current, expected_sha256)
    path, content = wanted[0] or current.path, current.content if wanted[1] is None else wanted[1]
    if (path, content) == (current.path, current.content):
        return current
    if path != current.path:
        yield from _taken(store_id, path, memory_id)
    memory = MemoryRecord(
        id=memory_id,
        store_id=store_id,
        path=path,
        content=content,
        content_sha256=digest(content),
        content_size_bytes=len(content.encode("utf-8")),
        version_id=change.version_id,
        created_at=current.created_at,
        updated_at=_stamp(current.updated_at),
    )
    yield exec_(
        "UPDATE memories SET path = $2, content = $3, content_sha256 = $4, content_size_bytes = $5,"
        " version_id = $6, updated_at = $7 WHERE id = $1",
        memory.id,
        memory.path,
        memory.content,
        memory.content_sha256,
        memory.content_size_bytes,
        memory.version_id,
        memory.updated_at,
    )
    yield from _version(memory, "modified", change, memory.updated_at)
    return memory


def delete(memory_id: str, store_id: str, workspace_id: str, expected_sha256: str | None, change: Change) -> Flow[None]:
    """Remove the memory (archived stores too) and record a ``deleted`` version; its earlier versions stay."""
    yield from _stores.select(store_id, workspace_id, lock=True)
    current = yield from select(memory_id, store_id)
    _check(current, expected_sha256)
    yield exec_("DELETE FROM memories WHERE id = $1", memory_id)
    yield from _version(current, "deleted", change, _stamp(current.updated_at))
    return None

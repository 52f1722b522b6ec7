"""Write-back from a session's mount as flows that run on either engine (``corral.memory.writeback``), and the
reads a mount is built and refreshed from.

Invariants: a batch locks the store's row first (``_stores.live``), like every memory write, so it runs after or
before any other writer of the store, never interleaved; a conflict is detected against the committed state and
turned into a version of its own (``_conflict``), never into an exception that would roll the batch back. Each
operation writes at most one version, with the id the caller chose for it (a transaction run twice writes the
same ids).
"""

from __future__ import annotations

from corral.db import Flow, Row, all_rows, one
from corral.errors import InvalidRequest, MemoryPathConflict
from corral.memory import _memories, _stores, paths
from corral.memory._memories import Change
from corral.memory.records import MEMORY_COLUMNS, Actor, MemoryRecord, StoreRecord
from corral.memory.writeback import Drop, Head, Op, Outcome, Put, conflict_path

NewIds = tuple[str, str]
"""Per operation: the id of a memory it may create, and of the version it may write."""


def tree(store_id: str, workspace_id: str) -> Flow[tuple[StoreRecord, list[MemoryRecord]]]:
    """The store and all its memories, with their content, in path order."""
    store = yield from _stores.select(store_id, workspace_id)
    rows: list[Row] = yield all_rows(
        f"SELECT {MEMORY_COLUMNS} FROM memories WHERE store_id = $1 ORDER BY path", store_id
    )
    return store, [MemoryRecord.from_row(row) for row in rows]


def heads(store_id: str, workspace_id: str) -> Flow[tuple[StoreRecord, list[Head]]]:
    """The store and its memories without their content (what a refresh compares with)."""
    store = yield from _stores.select(store_id, workspace_id)
    rows: list[Row] = yield all_rows(
        "SELECT id, path, content_sha256, version_id FROM memories WHERE store_id = $1 ORDER BY path", store_id
    )
    found = [Head(str(r["id"]), str(r["path"]), str(r["content_sha256"]), str(r["version_id"])) for r in rows]
    return store, found


def contents(store_id: str, workspace_id: str, memory_ids: list[str]) -> Flow[list[MemoryRecord]]:
    """The memories ``memory_ids`` of the store that still exist, with their content."""
    yield from _stores.select(store_id, workspace_id)
    found: list[MemoryRecord] = []
    for memory_id in memory_ids:
        row = yield one(f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = $1 AND store_id = $2", memory_id, store_id)
        if row is not None:
            found.append(MemoryRecord.from_row(row))
    return found


def write_back(
    store_id: str, workspace_id: str, session_id: str, ops: list[tuple[Op, NewIds]], actor: Actor
) -> Flow[list[Outcome]]:
    """Apply ``ops`` in order, each as a change by ``actor``."""
    yield from _stores.live(store_id, workspace_id)
    outcomes: list[Outcome] = []
    for op, (memory_id, version_id) in ops:
        each = Change(version_id, actor)
        if isinstance(op, Put):
            outcome = yield from _put(store_id, workspace_id, session_id, op, memory_id, each)
        else:
            outcome = yield from _drop(store_id, workspace_id, op, each)
        outcomes.append(outcome)
    return outcomes


def _current(memory_id: str, store_id: str) -> Flow[MemoryRecord | None]:
    row = yield one(f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = $1 AND store_id = $2", memory_id, store_id)
    return None if row is None else MemoryRecord.from_row(row)


def _unchanged(current: MemoryRecord | None, path: str, sha256: str | None) -> bool:
    return current is not None and current.path == path and current.content_sha256 == sha256


def _put(store_id: str, workspace_id: str, session_id: str, op: Put, memory_id: str, change: Change) -> Flow[Outcome]:
    if op.memory_id is None:
        try:
            made = yield from _memories.create(store_id, workspace_id, memory_id, op.path, op.content, change)
        except MemoryPathConflict:
            return (yield from _conflict(store_id, workspace_id, session_id, op, memory_id, change))
        return Outcome(op, "written", made)
    current = yield from _current(op.memory_id, store_id)
    if _unchanged(current, op.path, _memories.digest(op.content)) and current is not None:
        return Outcome(op, "written", current)  # it already holds this content (written by another): no conflict
    if not _unchanged(current, op.path, op.expected_sha256):
        return (yield from _conflict(store_id, workspace_id, session_id, op, memory_id, change))
    changed = yield from _memories.update(op.memory_id, store_id, workspace_id, (None, op.content), None, change)
    return Outcome(op, "written", changed)


def _conflict(
    store_id: str, workspace_id: str, session_id: str, op: Put, memory_id: str, change: Change
) -> Flow[Outcome]:
    """Keep the head at ``op.path`` (theirs) and store the session's content at the conflict path."""
    try:
        path = paths.memory_path(conflict_path(op.path, session_id))
    except InvalidRequest as exc:
        return Outcome(op, "refused", why=f"its conflict copy cannot be stored: {exc.message}")
    row = yield one("SELECT id FROM memories WHERE store_id = $1 AND path = $2", store_id, path)
    try:
        if row is not None:  # an earlier conflict of this session on this path: a new version of its copy
            wanted = (None, op.content)
            kept = yield from _memories.update(str(row["id"]), store_id, workspace_id, wanted, None, change)
        else:
            kept = yield from _memories.create(store_id, workspace_id, memory_id, path, op.content, change)
    except MemoryPathConflict as exc:
        return Outcome(op, "refused", why=f"its conflict copy cannot be stored: {exc.message}")
    return Outcome(op, "conflict", kept)


def _drop(store_id: str, workspace_id: str, op: Drop, change: Change) -> Flow[Outcome]:
    current = yield from _current(op.memory_id, store_id)
    if current is None:
        return Outcome(op, "dropped")
    if not _unchanged(current, op.path, op.expected_sha256):
        return Outcome(op, "kept", current, "it changed since the session saw it")
    yield from _memories.delete(op.memory_id, store_id, workspace_id, None, change)
    return Outcome(op, "dropped")

"""Session rows: create, read, list, update, archive, delete (the parts of the store that are not the log).

Invariant: the events these write (a new session's initial events, ``session.updated``,
``session.status_terminated``) go through ``_log.append`` like every other event.
"""

from __future__ import annotations

from dataclasses import replace

from corral._types import JSONObject
from corral.db import Flow, Row, Where, all_rows, exec_, insert, notify, one, split_page
from corral.errors import NotFound
from corral.ids import new_id
from corral.outbox import record as webhook
from corral.paging import Cursor
from corral.session import threads, workspaces
from corral.session._log import append, select_session
from corral.session.events import Event, NewEvent, dumps
from corral.session.records import SESSION_COLUMNS, NewSession, SessionFilter, SessionRecord, empty_usage
from corral.session.resources import Also, index_memory_stores, unindex
from corral.session.updates import apply_update


def create(new: NewSession, stamp: str, also: Also | None = None) -> Flow[tuple[SessionRecord, list[Event]]]:
    """Insert an idle session, then append its initial events (if any) like any other append; index the memory
    stores it attaches; run ``also`` in the same transaction.

    Creating with initial events starts the agent loop in the same call: ``session.status_running`` follows
    them, so the session is ``running`` at once (the harness sees a running session with unprocessed input
    and takes it from there).
    """
    session_id = new.session_id or new_id("session")
    yield insert(
        "sessions",
        {
            "id": session_id,
            "workspace_id": new.workspace_id,
            "agent_id": new.agent_id,
            "agent_version": new.agent_version,
            "environment_id": new.environment_id,
            "status": "idle",
            "doc": dumps(new.doc),
            "usage": dumps(empty_usage()),
            "created_at": stamp,
            "updated_at": stamp,
        },
    )
    yield from index_memory_stores(session_id, new.workspace_id, new.doc)
    if also is not None:
        yield from also()
    events: list[Event] = []
    if new.initial_events:
        events = yield from append(session_id, [*new.initial_events, NewEvent("session.status_running")], stamp)
    yield from webhook(new.workspace_id, "session.created", session_id, stamp)
    row = yield from select_session(session_id)
    return SessionRecord.from_row(_found(row, session_id)), events


def _found(row: Row | None, session_id: str, workspace_id: str | None = None) -> Row:
    if row is None or (workspace_id is not None and row["workspace_id"] != workspace_id):
        raise NotFound(f"session {session_id} not found")
    return row


def get(session_id: str, workspace_id: str | None) -> Flow[SessionRecord]:
    row = yield from select_session(session_id)
    return SessionRecord.from_row(_found(row, session_id, workspace_id))


def _where(flt: SessionFilter) -> Where:
    where = Where().equals("workspace_id", flt.workspace_id).term("thread_of IS NULL")
    if flt.agent_id is not None:
        where.equals("agent_id", flt.agent_id)
    if flt.agent_version is not None:
        where.equals("agent_version", flt.agent_version)
    if flt.statuses:
        where.one_of("status", flt.statuses)
    if not flt.include_archived:
        where.term("archived_at IS NULL")
    where.within("created_at", gt=flt.created_gt, gte=flt.created_gte, lt=flt.created_lt, lte=flt.created_lte)
    if flt.memory_store_id is not None:
        mark = where.bind(flt.memory_store_id)
        where.term(f"id IN (SELECT session_id FROM session_memory_stores WHERE memory_store_id = {mark})")
    if flt.none_match:
        where.term("1 = 0")
    return where


def page(flt: SessionFilter, order: str, limit: int, cursor: Cursor | None) -> Flow[tuple[list[SessionRecord], bool]]:
    """One page of sessions plus whether more exist beyond it (keyset on ``(created_at, id)``)."""
    where = _where(flt)
    backwards = cursor is not None and cursor.direction == "prev"
    scan_desc = (order == "desc") != backwards
    if cursor is not None:
        where.after(("created_at", "id"), cursor.key, descending=scan_desc)
    direction = "DESC" if scan_desc else "ASC"
    most = where.bind(limit + 1)
    rows: list[Row] = yield all_rows(
        f"SELECT {SESSION_COLUMNS}, {{now}} AS db_now FROM sessions WHERE {where}"
        f" ORDER BY created_at {direction}, id {direction} LIMIT {most}",
        *where.args,
    )
    shown, more = split_page(rows, limit)
    records = [SessionRecord.from_row(row) for row in shown]
    if backwards:
        records.reverse()
    return records, more


def update_doc(
    session_id: str, workspace_id: str, changes: JSONObject, stamp: str, guard_running: bool
) -> Flow[tuple[SessionRecord, Event | None]]:
    """Merge ``changes`` into the session's doc; emit ``session.updated`` with the changed fields only."""
    row = yield from select_session(session_id, lock=True)
    record = SessionRecord.from_row(_found(row, session_id, workspace_id))
    doc, changed = apply_update(record, changes, guard_running)
    if not changed:
        return record, None
    yield exec_("UPDATE sessions SET doc = $2 WHERE id = $1", session_id, dumps(doc))
    (event,) = yield from append(session_id, [NewEvent("session.updated", changed)], stamp)
    # The row as it now is: the locked row with the new doc and position (``session.updated`` projects nothing
    # but, for a budget change, the wake flags a client never reads from this record).
    return replace(record, doc=doc, last_seq=event.seq, updated_at=stamp), event


def archive(session_id: str, workspace_id: str, stamp: str) -> Flow[tuple[SessionRecord, Event | None]]:
    """Archive: read-only from now on, status terminated, any worker's lease invalidated."""
    row = yield from select_session(session_id, lock=True)
    record = SessionRecord.from_row(_found(row, session_id, workspace_id))
    if record.archived_at is not None:
        return record, None
    event: Event | None = None
    yield from threads.archive_children(session_id, stamp)
    if record.status != "terminated":
        (event,) = yield from append(session_id, [NewEvent("session.status_terminated")], stamp)
    row = yield one(
        "UPDATE sessions SET archived_at = $2, updated_at = $2, status = 'terminated', runnable = 0,"
        " running_since = NULL, pending_actions = '[]', lease_token = lease_token + 1,"
        f" lease_owner = NULL, lease_expires = NULL WHERE id = $1 RETURNING {SESSION_COLUMNS}",
        session_id,
        stamp,
    )
    yield from webhook(workspace_id, "session.archived", session_id, stamp)
    return SessionRecord.from_row(_found(row, session_id)), event


def delete(session_id: str, workspace_id: str, stamp: str, also: Also | None = None) -> Flow[None]:
    """Delete the session, its events, its memory-store index rows and its workspace snapshot's row; run ``also``
    in the same transaction."""
    row: Row | None = yield one("SELECT workspace_id FROM sessions WHERE id = $1{for_update}", session_id)
    _found(row, session_id, workspace_id)
    yield from unindex(session_id)
    yield from workspaces.forget(session_id)
    yield from threads.delete_children(session_id)
    if also is not None:
        yield from also()
    yield exec_("DELETE FROM events WHERE session_id = $1", session_id)
    yield exec_("DELETE FROM sessions WHERE id = $1", session_id)
    yield from webhook(workspace_id, "session.deleted", session_id, stamp)
    yield notify("events", f"{session_id}:deleted")


def docs_holding(key: str, after: str, limit: int) -> Flow[list[tuple[str, str]]]:
    """``(id, doc)`` of up to ``limit`` sessions not terminated whose doc may hold the top-level ``key``, by id
    after ``after`` (the text test is a cheap pre-filter: the caller reads the key from the parsed doc)."""
    rows: list[Row] = yield all_rows(
        "SELECT id, doc FROM sessions WHERE id > $1 AND status <> 'terminated' AND doc LIKE $2 ORDER BY id LIMIT $3",
        after,
        f'%"{key}":%',
        limit,
    )
    return [(str(row["id"]), str(row["doc"])) for row in rows]

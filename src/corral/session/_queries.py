"""Session rows: create, read, list, update, archive, delete (the parts of the store that are not the log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from corral.db import Flow, all_rows, exec_, notify, one
from corral.errors import NotFound
from corral.ids import new_id
from corral.paging import Cursor
from corral.session._flows import INSERT_EVENT, event_values, select_session
from corral.session.events import Event, NewEvent, dumps
from corral.session.records import SESSION_COLUMNS, SessionRecord, SessionState, empty_usage, project

_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass(frozen=True)
class SessionFilter:
    workspace_id: str
    agent_id: str | None = None
    agent_version: int | None = None
    statuses: tuple[str, ...] = ()
    include_archived: bool = False
    created_gt: str | None = None
    created_gte: str | None = None
    created_lt: str | None = None
    created_lte: str | None = None
    none_match: bool = False  # a filter on something no session here can have (deployment, memory store)


@dataclass(frozen=True)
class NewSession:
    workspace_id: str
    agent_id: str
    agent_version: int
    environment_id: str
    doc: dict[str, Any]
    initial_events: list[NewEvent] = field(default_factory=lambda: list[NewEvent]())


def create(new: NewSession, stamp: str) -> Flow:
    session_id = new_id("session")
    clock = yield one("SELECT {now} AS db_now")
    now_epoch = float(clock["db_now"])
    state = SessionState("idle", dumps(empty_usage()), "[]", 0.0, None, False)
    events: list[Event] = []
    # Creating with initial_events starts the agent loop in the same call: the session is `running` at once
    # (the harness sees a running session with unprocessed input and takes it from there).
    initial = list(new.initial_events)
    if initial:
        initial.append(NewEvent("session.status_running"))
    for seq, item in enumerate(initial, start=1):
        event = Event(
            session_id,
            seq,
            item.id or new_id("event"),
            item.type,
            None if item.queued else stamp,
            stamp,
            dumps(item.data),
        )
        events.append(event)
        project(state, event.id, item.type, item.data, now_epoch)
    yield exec_(
        f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $13, $10, $10,"
        " NULL, $11, $12, NULL, 0, NULL)",
        session_id,
        new.workspace_id,
        new.agent_id,
        new.agent_version,
        new.environment_id,
        state.status,
        dumps(new.doc),
        state.usage_json(),
        state.pending_json(),
        stamp,
        len(events),
        int(state.runnable),
        state.running_since,
    )
    if events:
        yield exec_("UPDATE sessions SET wake_at = {now} WHERE id = $1", session_id)
        for event in events:
            yield exec_(INSERT_EVENT, *event_values(event))
        yield notify("wake", session_id)
    row = yield from select_session(session_id)
    return SessionRecord.from_row(row), events


def get(session_id: str, workspace_id: str | None) -> Flow:
    row = yield from select_session(session_id)
    if row is None or (workspace_id is not None and row["workspace_id"] != workspace_id):
        raise NotFound(f"session {session_id} not found")
    return SessionRecord.from_row(row)


def _where(flt: SessionFilter) -> tuple[list[str], list[Any]]:
    clauses = ["workspace_id = $1"]
    args: list[Any] = [flt.workspace_id]

    def add(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.replace("?", f"${len(args)}"))

    if flt.agent_id is not None:
        add("agent_id = ?", flt.agent_id)
    if flt.agent_version is not None:
        add("agent_version = ?", flt.agent_version)
    if flt.statuses:
        marks = []
        for status in flt.statuses:
            args.append(status)
            marks.append(f"${len(args)}")
        clauses.append(f"status IN ({', '.join(marks)})")
    if not flt.include_archived:
        clauses.append("archived_at IS NULL")
    for op, value in (
        ("gt", flt.created_gt),
        ("gte", flt.created_gte),
        ("lt", flt.created_lt),
        ("lte", flt.created_lte),
    ):
        if value is not None:
            add(f"created_at {_OPS[op]} ?", value)
    if flt.none_match:
        clauses.append("1 = 0")
    return clauses, args


def page(flt: SessionFilter, order: str, limit: int, cursor: Cursor | None) -> Flow:
    """One page of sessions plus whether more exist beyond it and before it (keyset on created_at, id)."""
    clauses, args = _where(flt)
    descending = order == "desc"
    backwards = cursor is not None and cursor.direction == "prev"
    scan_desc = descending != backwards
    if cursor is not None:
        created, sid = cursor.key
        args.extend([created, sid])
        a, b = len(args) - 1, len(args)
        op = "<" if scan_desc else ">"
        clauses.append(f"(created_at {op} ${a} OR (created_at = ${a} AND id {op} ${b}))")
    direction = "DESC" if scan_desc else "ASC"
    args.append(limit + 1)
    rows = yield all_rows(
        f"SELECT {SESSION_COLUMNS}, {{now}} AS db_now FROM sessions WHERE {' AND '.join(clauses)}"
        f" ORDER BY created_at {direction}, id {direction} LIMIT ${len(args)}",
        *args,
    )
    more = len(rows) > limit
    records = [SessionRecord.from_row(row) for row in rows[:limit]]
    if backwards:
        records.reverse()
    return records, more


def update_doc(session_id: str, workspace_id: str, changes: dict[str, Any], stamp: str, guard_running: bool) -> Flow:
    """Merge ``changes`` into the session's doc; emit ``session.updated`` with the changed fields only."""
    row = yield from select_session(session_id, lock=True)
    if row is None or row["workspace_id"] != workspace_id:
        raise NotFound(f"session {session_id} not found")
    record = SessionRecord.from_row(row)
    from corral.session.updates import apply_update  # local import: keeps the flow module small

    doc, changed = apply_update(record, changes, guard_running)
    if not changed:
        return record, None
    seq = record.last_seq + 1
    event = Event(session_id, seq, new_id("event"), "session.updated", stamp, stamp, dumps(changed))
    yield exec_(INSERT_EVENT, *event_values(event))
    yield exec_(
        "UPDATE sessions SET doc = $2, last_seq = $3, updated_at = $4 WHERE id = $1", session_id, dumps(doc), seq, stamp
    )
    yield notify("events", f"{session_id}:{seq}")
    row = yield from select_session(session_id)
    return SessionRecord.from_row(row), event


def archive(session_id: str, workspace_id: str, stamp: str) -> Flow:
    """Archive: read-only from now on, status terminated, any worker's lease invalidated."""
    row = yield from select_session(session_id, lock=True)
    if row is None or row["workspace_id"] != workspace_id:
        raise NotFound(f"session {session_id} not found")
    record = SessionRecord.from_row(row)
    if record.archived_at is not None:
        return record, None
    event: Event | None = None
    seq = record.last_seq
    state = SessionState.of(record)
    if record.status != "terminated":
        seq += 1
        event = Event(session_id, seq, new_id("event"), "session.status_terminated", stamp, stamp, "{}")
        project(state, event.id, event.type, {}, float(row["db_now"]))
        yield exec_(INSERT_EVENT, *event_values(event))
    yield exec_(
        "UPDATE sessions SET archived_at = $2, updated_at = $2, status = 'terminated', last_seq = $3, runnable = 0,"
        " active_seconds = $4, running_since = NULL, pending_actions = '[]', lease_token = lease_token + 1,"
        " lease_owner = NULL, lease_expires = NULL WHERE id = $1",
        session_id,
        stamp,
        seq,
        state.active_seconds,
    )
    if event is not None:
        yield notify("events", f"{session_id}:{seq}")
    row = yield from select_session(session_id)
    return SessionRecord.from_row(row), event


def delete(session_id: str, workspace_id: str) -> Flow:
    row = yield one("SELECT workspace_id FROM sessions WHERE id = $1{for_update}", session_id)
    if row is None or row["workspace_id"] != workspace_id:
        raise NotFound(f"session {session_id} not found")
    yield exec_("DELETE FROM events WHERE session_id = $1", session_id)
    yield exec_("DELETE FROM sessions WHERE id = $1", session_id)
    yield notify("events", f"{session_id}:deleted")
    return None

"""The log's transactions: appending (the one way events are numbered and inserted), and reading it back.

Invariants:

* Every event of every session is appended by ``append``: its positions are reserved first by ``reserve``
  (``last_seq = last_seq + n`` in one UPDATE, which also locks the row on PostgreSQL and is under the
  database's write lock on SQLite), so positions are dense and unique whoever writes, and its rows are
  inserted by ``insert_events`` with named columns.
* The projection on the session row changes in the same transaction as the events that change it, and is
  written only when an event changed it (most events don't): the hot path is one UPDATE, one INSERT. On
  PostgreSQL a worker's one-event append (``fused``) sends both as one statement (one round trip fewer): the
  INSERT reads the reserved position from the UPDATE's ``RETURNING`` and is made only while the fence holds, so
  the flow raises exactly what the two-statement path raises, in the same order.
* So do the webhooks the events report (``corral.outbox.session_changes``: status changes, outcome evaluations,
  threads): recorded in the append's transaction, so a committed event's webhook is never lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from operator import attrgetter

from corral.db import Flow, Query, Row, Value, Where, all_rows, dialect, exec_, insert_sql, many, notify, one
from corral.errors import LeaseLost, NotFound
from corral.ids import new_id
from corral.outbox import record_all, session_changes
from corral.session.events import Event, NewEvent, dumps
from corral.session.leases import Fence, check_fence
from corral.session.quotas import LogQuota
from corral.session.records import SESSION_COLUMNS, STATE_COLUMNS, SessionState, project

EVENT_FIELDS = ("session_id", "seq", "id", "type", "processed_at", "created_at", "payload")
"""The events table's columns: ``Event``'s fields, same names, same order (rows become events by position)."""
if tuple(f.name for f in fields(Event) if f.init) != EVENT_FIELDS:
    raise RuntimeError(f"the events table's columns {EVENT_FIELDS} no longer match Event's fields")

EVENT_COLUMNS = ", ".join(EVENT_FIELDS)
INSERT_EVENT = insert_sql("events", EVENT_FIELDS)
_event_values: Callable[[Event], tuple[Value, ...]] = attrgetter(*EVENT_FIELDS)

Check = Callable[[SessionState, bool, NewEvent], None]


def event_from_row(row: Row) -> Event:
    """A row of ``SELECT {EVENT_COLUMNS}`` (by position: slices turn thousands of rows into events)."""
    return Event(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


def select_session(session_id: str, *, lock: bool = False) -> Flow[Row | None]:
    suffix = "{for_update}" if lock else ""
    row: Row | None = yield one(
        f"SELECT {SESSION_COLUMNS}, {{now}} AS db_now FROM sessions WHERE id = $1{suffix}", session_id
    )
    return row


_RESERVE = (
    f"UPDATE sessions SET last_seq = last_seq + $2, event_bytes = event_bytes + $4, updated_at = $3 WHERE id = $1"
    f" RETURNING {STATE_COLUMNS}, event_bytes, {{now}} AS db_now"
)


_RESERVE_AND_INSERT = (
    f"WITH r AS ({_RESERVE}),"
    f" i AS (INSERT INTO events ({EVENT_COLUMNS}) SELECT $1, r.last_seq, $5::text, $6::text, $7::text, $3, $8::text"
    " FROM r WHERE $9::text IS NULL OR (r.lease_owner = $9 AND r.lease_token = $10 AND r.lease_expires > r.db_now))"
    " SELECT * FROM r"
)
"""PostgreSQL only: ``reserve`` one position and insert the event there, in one statement (data-modifying CTEs
run whether or not the outer query reads them). The INSERT is skipped when the fence no longer holds, as
``check_fence`` then refuses the flow; the outer query returns what ``reserve`` returns."""


def reserve(session_id: str, count: int, stamp: str, size: int) -> Query:
    """Take the next ``count`` positions of the session and count ``size`` more bytes of its events. Result: the
    row's state columns, with the *new* ``last_seq`` and ``event_bytes`` and the database clock (``db_now``), or
    None if there is no such session."""
    return one(_RESERVE, session_id, count, stamp, size)


def insert_events(events: Sequence[Event]) -> Query:
    """Insert ``events`` (at least one) by column name."""
    if len(events) == 1:
        return exec_(INSERT_EVENT, *_event_values(events[0]))
    return many(INSERT_EVENT, [_event_values(event) for event in events])


def append(
    session_id: str,
    events: list[NewEvent],
    stamp: str,
    fence: Fence | None = None,
    check: Check | None = None,
    workspace_id: str | None = None,
    quota: LogQuota | None = None,
) -> Flow[list[Event]]:
    """Append ``events`` at the next positions and update the projection, atomically.

    A fence, workspace, client-rule (``check``) or ``quota`` failure raises, and the engine rolls the whole flow
    back.
    """
    if not events:
        return []
    payloads = [dumps(event.data) for event in events]
    size = sum(len(payload.encode()) for payload in payloads)
    ids = [event.id or new_id("event") for event in events]
    # only a worker's append: a client's checks and quota would otherwise come after the INSERT's unique check
    fused = len(events) == 1 and check is None and quota is None and workspace_id is None
    fused = fused and (yield dialect()) == "postgres"
    if fused:
        row: Row | None = yield _reserve_and_insert(session_id, stamp, size, fence, events[0], ids[0], payloads[0])
    else:
        row = yield reserve(session_id, len(events), stamp, size)
    if row is None or (workspace_id is not None and row["workspace_id"] != workspace_id):
        if fence is not None:
            raise LeaseLost(f"session {session_id} no longer exists")
        raise NotFound(f"session {session_id} not found")
    check_fence(row, fence)
    if quota is not None:
        quota.check(session_id, row, len(events), size)
    state = SessionState.from_row(row)
    before = state.signature()
    appended = _project_all(state, session_id, row, list(zip(events, ids, payloads, strict=True)), stamp, check)
    if not fused:
        yield insert_events(appended)
    if state.signature() != before:
        yield exec_(
            "UPDATE sessions SET status = $2, usage = $3, pending_actions = $4, active_seconds = $5,"
            " running_since = $6, runnable = $7, wake_at = CASE WHEN $8 = 1 THEN {now} ELSE wake_at END,"
            " server_calls = $9, outcomes = $10 WHERE id = $1",
            session_id,
            state.status,
            state.usage_json(),
            state.pending_json(),
            state.active_seconds,
            state.running_since,
            int(state.runnable),
            int(state.woke),
            state.server_calls_json(),
            state.outcomes_json(),
        )
    changes = [
        c
        for new, event in zip(events, appended, strict=True)
        for c in session_changes(session_id, event.type, new.data)
    ]
    yield from record_all(str(row["workspace_id"]), changes, stamp)
    yield notify("events", f"{session_id}:{appended[-1].seq}")
    if state.woke:
        yield notify("wake", session_id)
    return appended


def _project_all(
    state: SessionState,
    session_id: str,
    row: Row,
    events: list[tuple[NewEvent, str, str]],
    stamp: str,
    check: Check | None,
) -> list[Event]:
    """Number the events (the row holds the *new* ``last_seq``), check and project each in turn; each comes with
    its id and its payload (its data's JSON, made before the reservation, which counts its bytes)."""
    archived = row["archived_at"] is not None
    now_epoch = float(row["db_now"])
    seq = int(row["last_seq"]) - len(events)
    appended: list[Event] = []
    for event, event_id, payload in events:
        if check is not None:
            check(state, archived, event)
        seq += 1
        appended.append(Event(session_id, seq, event_id, event.type, None if event.queued else stamp, stamp, payload))
        project(state, event_id, event.type, event.data, now_epoch)
    return appended


def _reserve_and_insert(
    session_id: str, stamp: str, size: int, fence: Fence | None, event: NewEvent, event_id: str, payload: str
) -> Query:
    """``_RESERVE_AND_INSERT``'s query: the row ``reserve`` returns, the event inserted at its position."""
    processed = None if event.queued else stamp
    owner, token = (fence.owner, fence.token) if fence is not None else (None, None)
    return one(_RESERVE_AND_INSERT, session_id, 1, stamp, size, event_id, event.type, processed, payload, owner, token)


def mark_processed(session_id: str, event_ids: list[str], stamp: str, fence: Fence | None) -> Flow[int]:
    """Stamp ``processed_at`` on queued client events (the one change an event row may see)."""
    row = yield from select_session(session_id, lock=True)
    if row is None:
        raise LeaseLost(f"session {session_id} no longer exists") if fence else NotFound(f"session {session_id}")
    check_fence(row, fence)
    changed = 0
    for event_id in event_ids:
        changed += yield exec_(
            "UPDATE events SET processed_at = $3 WHERE session_id = $1 AND id = $2 AND processed_at IS NULL",
            session_id,
            event_id,
            stamp,
        )
    return changed


def slice_events(session_id: str, start: int, end: int | None) -> Flow[list[Event]]:
    rows: list[Row]
    if end is None:
        rows = yield all_rows(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE session_id = $1 AND seq >= $2 ORDER BY seq", session_id, start
        )
    else:
        rows = yield all_rows(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE session_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq",
            session_id,
            start,
            end,
        )
    return [event_from_row(row) for row in rows]


def last_seqs(session_ids: list[str]) -> Flow[dict[str, int]]:
    """``{session_id: last_seq}`` for the sessions that still exist."""
    found: dict[str, int] = {}
    for offset in range(0, len(session_ids), 500):
        where = Where().one_of("id", session_ids[offset : offset + 500])
        rows: list[Row] = yield all_rows(f"SELECT id, last_seq FROM sessions WHERE {where}", *where.args)
        found.update({row["id"]: int(row["last_seq"]) for row in rows})
    return found


def find_event(session_id: str, event_id: str) -> Flow[Event | None]:
    row: Row | None = yield one(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND session_id = $2", event_id, session_id
    )
    return None if row is None else event_from_row(row)

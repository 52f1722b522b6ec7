"""The session log's transactions, written once for both engines (see ``corral.db.query``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from corral.db import Flow, all_rows, exec_, many, notify, one
from corral.errors import LeaseLost, NotFound
from corral.ids import new_id
from corral.session.events import Event, NewEvent, dumps
from corral.session.records import SESSION_COLUMNS, STATE_COLUMNS, SessionState, project

EVENT_COLUMNS = "session_id, seq, id, type, processed_at, created_at, payload"
INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"


@dataclass(frozen=True)
class Fence:
    """Proof that a worker holds a session's lease: writes carrying a stale token are refused."""

    session_id: str
    owner: str
    token: int


Check = Callable[[SessionState, bool, NewEvent], None]


def event_from_row(row: Any) -> Event:
    """A row of ``SELECT {EVENT_COLUMNS}`` (by position: slices turn thousands of rows into events)."""
    return Event(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


def select_session(session_id: str, *, lock: bool = False) -> Flow:
    suffix = "{for_update}" if lock else ""
    row = yield one(f"SELECT {SESSION_COLUMNS}, {{now}} AS db_now FROM sessions WHERE id = $1{suffix}", session_id)
    return row


def _check_fence(row: Any, fence: Fence | None) -> None:
    if fence is None:
        return
    expires = row["lease_expires"]
    if (
        row["lease_owner"] != fence.owner
        or int(row["lease_token"]) != fence.token
        or expires is None
        or float(expires) <= float(row["db_now"])
    ):
        raise LeaseLost(f"lease on {fence.session_id} is no longer held by {fence.owner}")


def append(
    session_id: str,
    events: list[NewEvent],
    stamp: str,
    fence: Fence | None,
    check: Check | None,
    workspace_id: str | None,
) -> Flow:
    """Append ``events`` at the next positions and update the projection, atomically.

    The positions are reserved first (``last_seq + n``, which also locks the row on PostgreSQL); a fence,
    workspace or client-rule failure raises, and the engine rolls the whole flow back. The projection
    columns are written only when an event changed them (most events don't).
    """
    if not events:
        return []
    row = yield one(
        f"UPDATE sessions SET last_seq = last_seq + $2, updated_at = $3 WHERE id = $1"
        f" RETURNING {STATE_COLUMNS}, {{now}} AS db_now",
        session_id,
        len(events),
        stamp,
    )
    if row is None or (workspace_id is not None and row["workspace_id"] != workspace_id):
        if fence is not None:
            raise LeaseLost(f"session {session_id} no longer exists")
        raise NotFound(f"session {session_id} not found")
    _check_fence(row, fence)
    state = SessionState.from_row(row)
    before = state.signature()
    appended = _project_all(state, session_id, row, events, stamp, check)
    if len(appended) == 1:
        yield exec_(INSERT_EVENT, *event_values(appended[0]))
    else:
        yield many(INSERT_EVENT, [event_values(e) for e in appended])
    if state.signature() != before:
        yield exec_(
            "UPDATE sessions SET status = $2, usage = $3, pending_actions = $4, active_seconds = $5,"
            " running_since = $6, runnable = $7, wake_at = CASE WHEN $8 = 1 THEN {now} ELSE wake_at END"
            " WHERE id = $1",
            session_id,
            state.status,
            state.usage_json(),
            state.pending_json(),
            state.active_seconds,
            state.running_since,
            int(state.runnable),
            int(state.woke),
        )
    yield notify("events", f"{session_id}:{appended[-1].seq}")
    if state.woke:
        yield notify("wake", session_id)
    return appended


def _project_all(
    state: SessionState, session_id: str, row: Any, events: list[NewEvent], stamp: str, check: Check | None
) -> list[Event]:
    """Number the events (the row holds the *new* ``last_seq``), check and project each in turn."""
    archived = row["archived_at"] is not None
    now_epoch = float(row["db_now"])
    seq = int(row["last_seq"]) - len(events)
    appended: list[Event] = []
    for event in events:
        if check is not None:
            check(state, archived, event)
        seq += 1
        event_id = event.id or new_id("event")
        appended.append(
            Event(session_id, seq, event_id, event.type, None if event.queued else stamp, stamp, dumps(event.data))
        )
        project(state, event_id, event.type, event.data, now_epoch)
    return appended


def event_values(e: Event) -> tuple[Any, ...]:
    return (e.session_id, e.seq, e.id, e.type, e.processed_at, e.created_at, e.payload)


def mark_processed(session_id: str, event_ids: list[str], stamp: str, fence: Fence | None) -> Flow:
    """Stamp ``processed_at`` on queued client events (the one change an event row may see)."""
    row = yield from select_session(session_id, lock=True)
    if row is None:
        raise LeaseLost(f"session {session_id} no longer exists") if fence else NotFound(f"session {session_id}")
    _check_fence(row, fence)
    changed = 0
    for event_id in event_ids:
        changed += yield exec_(
            "UPDATE events SET processed_at = $3 WHERE session_id = $1 AND id = $2 AND processed_at IS NULL",
            session_id,
            event_id,
            stamp,
        )
    return changed


def slice_events(session_id: str, start: int, end: int | None) -> Flow:
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


def last_seqs(session_ids: list[str]) -> Flow:
    """``{session_id: last_seq}`` for the sessions that still exist."""
    found: dict[str, int] = {}
    for offset in range(0, len(session_ids), 500):
        chunk = session_ids[offset : offset + 500]
        marks = ", ".join(f"${i + 1}" for i in range(len(chunk)))
        rows = yield all_rows(f"SELECT id, last_seq FROM sessions WHERE id IN ({marks})", *chunk)
        found.update({row["id"]: int(row["last_seq"]) for row in rows})
    return found


def find_event(session_id: str, event_id: str) -> Flow:
    row = yield one(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND session_id = $2", event_id, session_id)
    return None if row is None else event_from_row(row)


# ---------------------------------------------------------------------------------------------- leases


def claim(owner: str, ttl: float, limit: int) -> Flow:
    """Take up to ``limit`` runnable sessions whose lease is free or expired; each gets a new token."""
    rows = yield all_rows(
        "SELECT id FROM sessions WHERE runnable = 1 AND (lease_expires IS NULL OR lease_expires < {now})"
        " AND (wake_at IS NULL OR wake_at <= {now}) ORDER BY wake_at LIMIT $1{skip_locked}",
        limit,
    )
    fences: list[Fence] = []
    for row in rows:
        claimed = yield one(
            "UPDATE sessions SET lease_owner = $2, lease_token = lease_token + 1, lease_expires = {now} + $3"
            " WHERE id = $1 AND runnable = 1 AND (lease_expires IS NULL OR lease_expires < {now})"
            " RETURNING lease_token",
            row["id"],
            owner,
            ttl,
        )
        if claimed is not None:
            fences.append(Fence(row["id"], owner, int(claimed["lease_token"])))
    return fences


def claim_one(session_id: str, owner: str, ttl: float) -> Flow:
    """Take one specific runnable session if its lease is free (used right after a local wake-up)."""
    claimed = yield one(
        "UPDATE sessions SET lease_owner = $2, lease_token = lease_token + 1, lease_expires = {now} + $3"
        " WHERE id = $1 AND runnable = 1 AND (lease_expires IS NULL OR lease_expires < {now})"
        " RETURNING lease_token",
        session_id,
        owner,
        ttl,
    )
    return None if claimed is None else Fence(session_id, owner, int(claimed["lease_token"]))


def renew(fence: Fence, ttl: float) -> Flow:
    changed = yield exec_(
        "UPDATE sessions SET lease_expires = {now} + $4 WHERE id = $1 AND lease_owner = $2 AND lease_token = $3"
        " AND lease_expires > {now}",
        fence.session_id,
        fence.owner,
        fence.token,
        ttl,
    )
    if not changed:
        raise LeaseLost(f"lease on {fence.session_id} was lost")
    return None


def release(fence: Fence, seen_seq: int, runnable: bool, retry_in: float | None) -> Flow:
    """Give the session back. It stays runnable if events arrived after ``seen_seq`` or ``runnable``."""
    row = yield one(
        "UPDATE sessions SET lease_owner = NULL, lease_expires = NULL,"
        " runnable = CASE WHEN last_seq > $3 THEN 1 ELSE $4 END,"
        " wake_at = CASE WHEN last_seq > $3 THEN {now} ELSE {now} + $5 END"
        " WHERE id = $1 AND lease_owner = $2 AND lease_token = $6 RETURNING runnable",
        fence.session_id,
        fence.owner,
        seen_seq,
        int(runnable),
        retry_in or 0.0,
        fence.token,
    )
    if row is None:
        return False
    if int(row["runnable"]):
        yield notify("wake", fence.session_id)
    return True


def bump_lease(session_id: str) -> Flow:
    """Invalidate whatever lease a worker holds on the session (archive, delete)."""
    yield exec_(
        "UPDATE sessions SET lease_token = lease_token + 1, lease_owner = NULL, lease_expires = NULL WHERE id = $1",
        session_id,
    )
    return None

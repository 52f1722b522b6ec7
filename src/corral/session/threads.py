"""Session threads (api.md §9) as flows: a session's primary thread and its child threads.

A child thread is a row of ``sessions`` named ``sthr_…`` whose ``thread_of`` is its session: it has its own log
(``events`` under its id), projection (status, usage, pending actions) and lease, so everything that reads,
streams or wakes a session does the same for a thread. Its ``doc`` holds ``agent`` (the definition it runs),
``agent_name`` and ``parent_thread_id``. The primary thread is the session row itself, named by
``primary_thread_id`` (the session id's body under the ``sthr_`` prefix): it has no row of its own.

Invariants:

* Sessions listings never see a thread (``thread_of IS NULL``); a thread is reached through its session only,
  and a thread id of another session (or workspace) is a 404.
* A child thread is created with ``session.thread_created`` appended to its parent thread's log in the same
  transaction; it is archived (→ ``terminated``) with ``session.thread_status_terminated`` appended to its own
  log and cross-posted to the session's, in one transaction; archiving twice changes nothing.
* The primary thread is archived only by archiving its session; a session archived or deleted takes its
  threads with it (``archive_children``, ``delete_children``).
"""

from __future__ import annotations

from dataclasses import dataclass

from corral._types import JSONObject
from corral.db import Flow, Row, Where, all_rows, exec_, insert, notify, one, split_page
from corral.errors import InvalidRequest, NotFound
from corral.ids import PREFIXES
from corral.session._log import append
from corral.session.events import Event, NewEvent, dumps
from corral.session.records import SESSION_COLUMNS, SessionRecord, empty_usage


def primary_thread_id(session_id: str) -> str:
    return PREFIXES["thread"] + session_id.removeprefix(PREFIXES["session"])


def session_of_primary(thread_id: str) -> str:
    return PREFIXES["session"] + thread_id.removeprefix(PREFIXES["thread"])


@dataclass(frozen=True)
class NewThread:
    """A child thread to create: the ``agent`` definition it runs under ``agent_name``, spawned by
    ``parent_thread_id`` (a thread of session ``session_id``)."""

    session_id: str
    thread_id: str
    parent_thread_id: str
    agent: JSONObject
    agent_name: str


def _select(thread_id: str, session_id: str, *, lock: bool = False) -> Flow[SessionRecord]:
    suffix = "{for_update}" if lock else ""
    row: Row | None = yield one(
        f"SELECT {SESSION_COLUMNS}, {{now}} AS db_now FROM sessions WHERE id = $1 AND thread_of = $2{suffix}",
        thread_id,
        session_id,
    )
    if row is None:
        raise NotFound(f"thread {thread_id} not found")
    return SessionRecord.from_row(row)


def create(new: NewThread, stamp: str) -> Flow[tuple[SessionRecord, list[Event]]]:
    """Insert the thread (idle, nothing to do yet) and announce it on its parent thread's log."""
    session: Row | None = yield one(
        "SELECT workspace_id, environment_id FROM sessions WHERE id = $1 AND thread_of IS NULL", new.session_id
    )
    if session is None:
        raise NotFound(f"session {new.session_id} not found")
    doc = {
        "agent": new.agent,
        "agent_name": new.agent_name,
        "parent_thread_id": new.parent_thread_id,
        "session_id": new.session_id,  # whose sandbox the thread works in
    }
    yield insert(
        "sessions",
        {
            "id": new.thread_id,
            "workspace_id": session["workspace_id"],
            "agent_id": str(new.agent.get("id") or ""),
            "agent_version": int(new.agent.get("version") or 0),
            "environment_id": session["environment_id"],
            "status": "idle",
            "doc": dumps(doc),
            "usage": dumps(empty_usage()),
            "created_at": stamp,
            "updated_at": stamp,
            "thread_of": new.session_id,
        },
    )
    parent_log = _log_of(new.session_id, new.parent_thread_id)
    announced = NewEvent("session.thread_created", _status_data(new.thread_id, new.agent_name, workflow=True))
    events = yield from append(parent_log, [announced], stamp)
    record = yield from _select(new.thread_id, new.session_id)
    return record, events


MAX_CONCURRENT = 25
"""Child threads of one session that may be open (not terminated) at once (api.md §9)."""


@dataclass(frozen=True)
class Delegation:
    """A coordinator's call handing ``message`` to a roster agent: the thread it runs in, named after the call."""

    thread: NewThread
    message: str
    sent_id: str  # the id of ``agent.thread_message_sent`` on the parent's log


def delegate(delegation: Delegation, stamp: str) -> Flow[SessionRecord]:
    """The delegation's thread, created with its task on first call and returned as is on any later one (a
    worker that took the coordinator over calls again with the same tool use id: nothing is sent twice)."""
    new = delegation.thread
    existing: Row | None = yield one(
        "SELECT id FROM sessions WHERE id = $1 AND thread_of = $2", new.thread_id, new.session_id
    )
    if existing is not None:
        return (yield from _select(new.thread_id, new.session_id))
    open_count: Row | None = yield one(
        "SELECT COUNT(*) AS n FROM sessions WHERE thread_of = $1 AND status <> 'terminated'", new.session_id
    )
    if open_count is not None and int(open_count["n"]) >= MAX_CONCURRENT:
        raise InvalidRequest(f"the session has {MAX_CONCURRENT} open threads already, the most it may have")
    yield from create(new, stamp)
    content = [{"type": "text", "text": delegation.message}]
    sent = {"to_session_thread_id": new.thread_id, "to_agent_name": new.agent_name, "content": content}
    yield from append(
        _log_of(new.session_id, new.parent_thread_id),
        [NewEvent("agent.thread_message_sent", sent, id=delegation.sent_id)],
        stamp,
    )
    received = {"from_session_thread_id": new.parent_thread_id, "content": content}
    task = [NewEvent("agent.thread_message_received", received), NewEvent("user.message", {"content": content})]
    yield from append(new.thread_id, task, stamp)
    return (yield from _select(new.thread_id, new.session_id))


def get(session_id: str, thread_id: str) -> Flow[SessionRecord]:
    return (yield from _select(thread_id, session_id))


def page(
    session_id: str, statuses: tuple[str, ...], limit: int, after: tuple[str, str] | None
) -> Flow[tuple[list[SessionRecord], bool]]:
    """Child threads oldest first (keyset on ``(created_at, id)``), and whether more follow."""
    where = Where().equals("thread_of", session_id)
    if statuses:
        where.one_of("status", statuses)
    if after is not None:
        where.after(("created_at", "id"), after, descending=False)
    most = where.bind(limit + 1)
    rows: list[Row] = yield all_rows(
        f"SELECT {SESSION_COLUMNS}, {{now}} AS db_now FROM sessions WHERE {where}"
        f" ORDER BY created_at ASC, id ASC LIMIT {most}",
        *where.args,
    )
    shown, more = split_page(rows, limit)
    return [SessionRecord.from_row(row) for row in shown], more


def archive(session_id: str, thread_id: str, stamp: str) -> Flow[tuple[SessionRecord, list[Event]]]:
    """Terminate a child thread (api.md §9); the primary thread is archived with its session."""
    if thread_id == primary_thread_id(session_id):
        raise InvalidRequest(f"thread {thread_id} is the session's primary thread: archive the session instead")
    record = yield from _select(thread_id, session_id, lock=True)
    if record.archived_at is not None:
        return record, []
    events = yield from _terminate(session_id, record, stamp)
    record = yield from _select(thread_id, session_id)
    return record, events


def archive_children(session_id: str, stamp: str) -> Flow[list[Event]]:
    """Terminate every child thread still open (the session is being archived)."""
    rows: list[Row] = yield all_rows(
        f"SELECT {SESSION_COLUMNS}, {{now}} AS db_now FROM sessions WHERE thread_of = $1 AND archived_at IS NULL"
        " ORDER BY created_at, id{for_update}",
        session_id,
    )
    events: list[Event] = []
    for row in rows:
        events += yield from _terminate(session_id, SessionRecord.from_row(row), stamp)
    return events


def delete_children(session_id: str) -> Flow[None]:
    """Delete the session's threads and their logs; their streams end as the session's do."""
    rows: list[Row] = yield all_rows("SELECT id FROM sessions WHERE thread_of = $1", session_id)
    for row in rows:
        yield notify("events", f"{row['id']}:deleted")
    yield exec_("DELETE FROM events WHERE session_id IN (SELECT id FROM sessions WHERE thread_of = $1)", session_id)
    yield exec_("DELETE FROM sessions WHERE thread_of = $1", session_id)


def _terminate(session_id: str, record: SessionRecord, stamp: str) -> Flow[list[Event]]:
    """``session.thread_status_terminated`` on the thread's log and the session's; the row read-only, its lease
    invalidated (a worker running it loses its fence)."""
    data = _status_data(record.id, str(record.doc.get("agent_name") or ""))
    own: list[Event] = []
    if record.status != "terminated":
        own += yield from append(record.id, [NewEvent("session.status_terminated")], stamp)
    own += yield from append(record.id, [NewEvent("session.thread_status_terminated", data)], stamp)
    posted = yield from append(session_id, [NewEvent("session.thread_status_terminated", data)], stamp)
    yield exec_(
        "UPDATE sessions SET archived_at = $2, updated_at = $2, status = 'terminated', runnable = 0,"
        " running_since = NULL, pending_actions = '[]', lease_token = lease_token + 1, lease_owner = NULL,"
        " lease_expires = NULL WHERE id = $1",
        record.id,
        stamp,
    )
    return [*own, *posted]


def _status_data(thread_id: str, agent_name: str, *, workflow: bool = False) -> JSONObject:
    data: JSONObject = {"session_thread_id": thread_id, "agent_name": agent_name}
    if workflow:
        data["workflow_run_id"] = None
    return data


def _log_of(session_id: str, thread_id: str) -> str:
    """The row whose log is ``thread_id``'s: the session's for its primary thread."""
    return session_id if thread_id == primary_thread_id(session_id) else thread_id

"""The work items' transactions, one flow each, and the state machine of api.md §10.3.

::

    queued ──poll──► (pending) ──ack──► starting ──heartbeat──► active
      ▲                 │ not acked within reclaim_older_than_ms      │ stop(force=false)
      └── redeliverable ┘                                             ▼
    starting|active ── lease expires ──► queued        stopping ──stop / worker done──► stopped
    any live state ──stop(force=true)──► stopped

Invariants:

* Every flow first *lapses* the environment's expired leases: a ``starting``/``active`` item whose lease passed
  is ``queued`` again (its heartbeat, ack and token cleared, so the old holder's next conditional heartbeat gets
  412), and a ``stopping`` one is ``stopped``. Nothing needs a timer for a lease to lapse.
* A poll hands out at most one item, oldest first, and mints a fresh sessions token for it (only its hash is
  kept): the token of an earlier delivery stops working.
* A heartbeat extends the lease only if ``expected_last_heartbeat`` is the stored one (``NO_HEARTBEAT`` for
  none); the check is skipped once the item is ``stopping`` or ``stopped``, whose heartbeats extend nothing.
* At most one live item per session (a partial unique index): enqueueing a session that has one is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from corral.catalog.keys import hash_secret
from corral.db import Flow, Row, all_rows, exec_, notify, one
from corral.errors import Conflict, ErrorCode, NotFound, PreconditionFailed
from corral.ids import new_id, now, rfc3339
from corral.wire import patch_metadata
from corral.work.records import NO_HEARTBEAT, Heartbeat, QueueStats, WorkItem, item_from

POLLER_WINDOW_SECONDS = 30.0


def lapse(environment_id: str) -> Flow[None]:
    yield exec_(
        "UPDATE work_items SET state = 'queued', queued_at = {now}, delivered_at = NULL, lease_expires = NULL,"
        " acknowledged_at = NULL, started_at = NULL, latest_heartbeat_at = NULL, stop_requested_at = NULL,"
        " token_hash = NULL"
        " WHERE environment_id = $1 AND state IN ('starting', 'active') AND lease_expires < {now}",
        environment_id,
    )
    yield exec_(
        "UPDATE work_items SET state = 'stopped', stopped_at = $2, lease_expires = NULL, token_hash = NULL"
        " WHERE environment_id = $1 AND state = 'stopping' AND lease_expires < {now}",
        environment_id,
        rfc3339(now()),
    )
    return None


def enqueue(workspace_id: str, environment_id: str, session_id: str, ttl: int, stamp: str) -> Flow[bool]:
    """Queue work for ``session_id`` unless it has a live item already; True when an item was queued."""
    added: int = yield exec_(
        "INSERT INTO work_items (id, workspace_id, environment_id, session_id, state, metadata, ttl_seconds,"
        " queued_at, created_at) VALUES ($1, $2, $3, $4, 'queued', '{}', $5, {now}, $6)"
        " ON CONFLICT (session_id) WHERE state <> 'stopped' DO NOTHING",
        new_id("work"),
        workspace_id,
        environment_id,
        session_id,
        ttl,
        stamp,
    )
    if added:
        yield notify("work", environment_id)
    return bool(added)


def enqueue_with(
    first: Callable[[], Flow[None]] | None, workspace_id: str, environment_id: str, session_id: str, ttl: int
) -> Callable[[], Flow[None]]:
    """``first`` (another flow of a session's creation) and then the session's first work item: one transaction."""
    stamp = rfc3339(now())

    def both() -> Flow[None]:
        if first is not None:
            yield from first()
        yield from enqueue(workspace_id, environment_id, session_id, ttl, stamp)
        return None

    return both


def _requeue_if_busy(item: WorkItem, stamp: str) -> Flow[None]:
    """A stopped item whose session is still running (its worker quit as a turn began) is queued again at once."""
    row: Row | None = yield one(
        "SELECT id FROM sessions WHERE id = $1 AND status <> 'terminated' AND (status = 'running' OR runnable = 1)",
        item.session_id,
    )
    if row is not None:
        yield from enqueue(item.workspace_id, item.environment_id, item.session_id, item.ttl_seconds, stamp)
    return None


def poll(environment_id: str, worker_id: str, reclaim_ms: int, token: str) -> Flow[tuple[WorkItem | None, float]]:
    """The oldest deliverable item, marked delivered with ``token``'s hash, and the seconds until the next lease
    of the environment may lapse (how long an empty long-poll may wait before looking again)."""
    yield from lapse(environment_id)
    yield exec_(
        "INSERT INTO work_pollers (environment_id, worker_id, polled_at) VALUES ($1, $2, {now})"
        " ON CONFLICT (environment_id, worker_id) DO UPDATE SET polled_at = excluded.polled_at",
        environment_id,
        worker_id,
    )
    row: Row | None = yield one(
        "SELECT id FROM work_items WHERE environment_id = $1 AND state = 'queued'"
        " AND (delivered_at IS NULL OR delivered_at < {now} - $2) ORDER BY queued_at, id LIMIT 1{skip_locked}",
        environment_id,
        reclaim_ms / 1000.0,
    )
    if row is None:
        return None, (yield from _next_lapse(environment_id, reclaim_ms))
    yield exec_(
        "UPDATE work_items SET delivered_at = {now}, token_hash = $2 WHERE id = $1", row["id"], hash_secret(token)
    )
    item = yield from _get(str(row["id"]))
    return item.with_token(token), 0.0


def _next_lapse(environment_id: str, reclaim_ms: int) -> Flow[float]:
    row: Row | None = yield one(
        "SELECT MIN(CASE WHEN state = 'queued' THEN delivered_at + $2 ELSE lease_expires END) - {now} AS wait"
        " FROM work_items WHERE environment_id = $1 AND state <> 'stopped'",
        environment_id,
        reclaim_ms / 1000.0,
    )
    wait = None if row is None else row["wait"]
    return float("inf") if wait is None else max(float(wait), 0.0)


def _get(work_id: str) -> Flow[WorkItem]:
    row: Row | None = yield one("SELECT * FROM work_items WHERE id = $1", work_id)
    if row is None:
        raise NotFound(f"work item {work_id} not found")
    return item_from(row)


def get(workspace_id: str, environment_id: str, work_id: str) -> Flow[WorkItem]:
    yield from lapse(environment_id)
    item = yield from _get(work_id)
    if item.workspace_id != workspace_id or item.environment_id != environment_id:
        raise NotFound(f"work item {work_id} not found")
    return item


def ack(workspace_id: str, environment_id: str, work_id: str, stamp: str) -> Flow[WorkItem]:
    item = yield from get(workspace_id, environment_id, work_id)
    if item.state != "queued" or not item.delivered:
        raise Conflict(f"work item {work_id} is {item.state}{'' if item.delivered else ' and was never polled'}")
    yield exec_(
        "UPDATE work_items SET state = 'starting', acknowledged_at = $2, lease_expires = {now} + ttl_seconds"
        " WHERE id = $1",
        work_id,
        stamp,
    )
    return (yield from _get(work_id))


def heartbeat(
    workspace_id: str, environment_id: str, work_id: str, expected: str, ttl: int | None, stamp: str
) -> Flow[Heartbeat]:
    item = yield from get(workspace_id, environment_id, work_id)
    if item.state in ("stopping", "stopped"):
        if item.state == "stopped":
            raise Conflict(f"work item {work_id} is stopped")
        return Heartbeat(item.latest_heartbeat_at, False, item.state, item.ttl_seconds)
    stored = item.latest_heartbeat_at or NO_HEARTBEAT
    if expected != stored:
        held = Heartbeat(item.latest_heartbeat_at, False, item.state, item.ttl_seconds)
        raise PreconditionFailed(
            "expected_last_heartbeat does not match the stored heartbeat: another worker may hold the lease",
            code=ErrorCode.HEARTBEAT_PRECONDITION_FAILED,
            details={"current_state": held.lease_state()},
        )
    if item.state == "queued":
        raise Conflict(f"work item {work_id} is queued: ack it before its first heartbeat")
    ttl_seconds = item.ttl_seconds if ttl is None else ttl
    yield exec_(
        "UPDATE work_items SET state = 'active', started_at = COALESCE(started_at, $2), latest_heartbeat_at = $2,"
        " ttl_seconds = $3, lease_expires = {now} + $4 WHERE id = $1",
        work_id,
        stamp,
        ttl_seconds,
        float(ttl_seconds),  # one type per parameter on PostgreSQL
    )
    return Heartbeat(stamp, True, "active", ttl_seconds)


def stop(workspace_id: str, environment_id: str, work_id: str, force: bool, stamp: str) -> Flow[WorkItem]:
    item = yield from get(workspace_id, environment_id, work_id)
    if item.state == "stopped":
        raise Conflict(f"work item {work_id} is already stopped")
    if not force and item.state in ("starting", "active"):
        yield exec_("UPDATE work_items SET state = 'stopping', stop_requested_at = $2 WHERE id = $1", work_id, stamp)
    else:
        yield exec_(
            "UPDATE work_items SET state = 'stopped', stopped_at = $2, lease_expires = NULL, token_hash = NULL"
            " WHERE id = $1",
            work_id,
            stamp,
        )
        yield from _requeue_if_busy(item, stamp)
    return (yield from _get(work_id))


def update_metadata(
    workspace_id: str, environment_id: str, work_id: str, patch: Mapping[str, str | None]
) -> Flow[WorkItem]:
    item = yield from get(workspace_id, environment_id, work_id)
    metadata = patch_metadata({k: str(v) for k, v in item.metadata.items()}, patch)
    yield exec_("UPDATE work_items SET metadata = $2 WHERE id = $1", work_id, json.dumps(metadata))
    return (yield from _get(work_id))


def page(
    workspace_id: str, environment_id: str, limit: int, after: tuple[str, str] | None
) -> Flow[tuple[list[WorkItem], bool]]:
    """Newest first, keyed by ``(created_at, id)``."""
    yield from lapse(environment_id)
    created, work_id = after or ("~", "~")
    rows: list[Row] = yield all_rows(
        "SELECT * FROM work_items WHERE workspace_id = $1 AND environment_id = $2"
        " AND (created_at < $3 OR (created_at = $3 AND id < $4)) ORDER BY created_at DESC, id DESC LIMIT $5",
        workspace_id,
        environment_id,
        created,
        work_id,
        limit + 1,
    )
    return [item_from(row) for row in rows[:limit]], len(rows) > limit


def stats(workspace_id: str, environment_id: str) -> Flow[QueueStats]:
    yield from lapse(environment_id)
    row: Row | None = yield one(
        "SELECT SUM(CASE WHEN delivered_at IS NULL THEN 1 ELSE 0 END) AS depth,"
        " SUM(CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END) AS pending, MIN(created_at) AS oldest"
        " FROM work_items WHERE workspace_id = $1 AND environment_id = $2 AND state = 'queued'",
        workspace_id,
        environment_id,
    )
    pollers: Row | None = yield one(
        "SELECT COUNT(*) AS n FROM work_pollers WHERE environment_id = $1 AND polled_at > {now} - $2",
        environment_id,
        POLLER_WINDOW_SECONDS,
    )
    assert row is not None and pollers is not None, "aggregates always return a row"
    return QueueStats(int(row["depth"] or 0), int(row["pending"] or 0), row["oldest"], int(pollers["n"]))


def has_polled(environment_id: str, worker_id: str) -> Flow[bool]:
    row: Row | None = yield one(
        "SELECT polled_at FROM work_pollers WHERE environment_id = $1 AND worker_id = $2", environment_id, worker_id
    )
    return row is not None


def by_token(token: str) -> Flow[WorkItem | None]:
    """The live item whose latest delivery minted ``token``."""
    row: Row | None = yield one("SELECT * FROM work_items WHERE token_hash = $1", hash_secret(token))
    return None if row is None else item_from(row)

"""Deployment and run transactions (flows, ``corral.db.query``), each with its webhook events in the same write.

Invariants:

* ``next_fire_at`` is set exactly when the deployment is active, scheduled and not archived; every write that
  changes one of those recomputes it (from the writer's clock: unpausing never backfills) and rings the
  ``deployments`` channel so schedulers re-read their next due time.
* ``claim`` takes due rows by compare-and-set of a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's
  writer lock serialises it); ``fire`` inserts the run and advances the schedule only while the claim is still
  the caller's, and the unique (deployment_id, scheduled_at) key refuses a second run of one tick. A fire that
  loses either check rolls back whole, with the session written in the same transaction.
* A scheduled fire the catalog refuses pauses the deployment (``paused_reason: {type:"error"}``), or archives it
  when the agent was archived.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from corral._types import JSONObject, json_object
from corral.db import Flow, Row, Where, all_rows, exec_, insert, notify, one
from corral.db.pages import newest_first
from corral.deployments.records import DEPLOYMENT_COLUMNS, RUN_COLUMNS, DeploymentRecord, RunRecord
from corral.errors import Conflict, ErrorCode, NotFound
from corral.outbox import record as webhook
from corral.paging import Cursor, Page

CHANNEL = "deployments"
SCOPE = "deployments"
RUN_SCOPE = "deployment_runs"


@dataclass(frozen=True, slots=True)
class Fields:
    """What a create or update writes (everything but the computed columns)."""

    agent_id: str
    doc: JSONObject
    schedule: str | None
    paused_reason: str | None
    next_fire_at: float | None


def _select(deployment_id: str) -> Flow[Row | None]:
    row: Row | None = yield one(f"SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id = $1", deployment_id)
    return row


def get(workspace_id: str, deployment_id: str) -> Flow[DeploymentRecord]:
    row = yield from _select(deployment_id)
    if row is None or row["workspace_id"] != workspace_id:
        raise NotFound(f"deployment {deployment_id} not found")
    return DeploymentRecord.from_row(row)


def find(deployment_id: str) -> Flow[DeploymentRecord | None]:
    """A deployment of any workspace (the scheduler's view), or None."""
    row = yield from _select(deployment_id)
    return None if row is None else DeploymentRecord.from_row(row)


def create(workspace_id: str, deployment_id: str, fields: Fields, stamp: str) -> Flow[DeploymentRecord]:
    yield insert(
        "deployments",
        {
            "id": deployment_id,
            "workspace_id": workspace_id,
            "agent_id": fields.agent_id,
            "doc": json.dumps(fields.doc),
            "schedule": fields.schedule,
            "paused_reason": fields.paused_reason,
            "next_fire_at": fields.next_fire_at,
            "created_at": stamp,
            "updated_at": stamp,
        },
    )
    yield from webhook(workspace_id, "deployment.created", deployment_id, stamp)
    yield notify(CHANNEL, deployment_id)
    return (yield from get(workspace_id, deployment_id))


def replace(workspace_id: str, deployment_id: str, fields: Fields, event: str, stamp: str) -> Flow[DeploymentRecord]:
    """Write ``fields`` over a deployment that is not archived (archived deployments are immutable)."""
    current = yield from get(workspace_id, deployment_id)
    if current.archived_at is not None:
        raise Conflict(f"deployment {deployment_id} is archived", code=ErrorCode.INVALID_REQUEST)
    yield exec_(
        "UPDATE deployments SET agent_id = $1, doc = $2, schedule = $3, paused_reason = $4, next_fire_at = $5,"
        " claim_owner = NULL, claim_expires = NULL, updated_at = $6 WHERE id = $7",
        fields.agent_id,
        json.dumps(fields.doc),
        fields.schedule,
        fields.paused_reason,
        fields.next_fire_at,
        stamp,
        deployment_id,
    )
    yield from webhook(workspace_id, event, deployment_id, stamp)
    yield notify(CHANNEL, deployment_id)
    return (yield from get(workspace_id, deployment_id))


def archive(workspace_id: str, deployment_id: str, stamp: str) -> Flow[DeploymentRecord]:
    current = yield from get(workspace_id, deployment_id)
    if current.archived_at is None:
        yield exec_(
            "UPDATE deployments SET archived_at = $1, updated_at = $1, next_fire_at = NULL, claim_owner = NULL,"
            " claim_expires = NULL WHERE id = $2",
            stamp,
            deployment_id,
        )
        yield from webhook(workspace_id, "deployment.archived", deployment_id, stamp)
    return (yield from get(workspace_id, deployment_id))


def page(
    workspace_id: str,
    filters: JSONObject,
    limit: int,
    cursor: Cursor | None,
) -> Flow[Page]:
    where = Where().equals("workspace_id", workspace_id)
    where.within("created_at", gte=_text(filters.get("created_gte")), lte=_text(filters.get("created_lte")))
    if filters.get("agent_id") is not None:
        where.equals("agent_id", _text(filters["agent_id"]))
    if not filters.get("include_archived"):
        where.term("archived_at IS NULL")
    status = filters.get("status")
    if status == "paused":
        where.term("paused_reason IS NOT NULL")
    elif status == "active":
        where.term("paused_reason IS NULL")
    return (
        yield from newest_first(
            "deployments", DEPLOYMENT_COLUMNS, where, limit, cursor, SCOPE, DeploymentRecord.from_row
        )
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def claim(owner: str, now: float, lease: float, limit: int) -> Flow[list[str]]:
    """Lease up to ``limit`` due deployments no live claim holds; their ids."""
    rows: list[Row] = yield all_rows(
        "SELECT id FROM deployments WHERE next_fire_at <= $1 AND (claim_expires IS NULL OR claim_expires < $1)"
        " ORDER BY next_fire_at LIMIT $2{skip_locked}",
        now,
        limit,
    )
    ids = [str(row["id"]) for row in rows]
    for deployment_id in ids:
        yield exec_(
            "UPDATE deployments SET claim_owner = $1, claim_expires = $2 WHERE id = $3",
            owner,
            now + lease,
            deployment_id,
        )
    return ids


def next_due() -> Flow[float | None]:
    """The earliest moment a claim may be due: a fire time, or a claim's expiry when that is later."""
    row: Row | None = yield one(
        "SELECT MIN(CASE WHEN claim_expires IS NOT NULL AND claim_expires > next_fire_at THEN claim_expires"
        " ELSE next_fire_at END) AS due FROM deployments WHERE next_fire_at IS NOT NULL"
    )
    return None if row is None or row["due"] is None else float(row["due"])


@dataclass(frozen=True, slots=True)
class Fire:
    """One run to record: for a scheduled one, the claim it needs and where the schedule goes next."""

    workspace_id: str
    deployment_id: str
    run_id: str
    trigger_type: str
    doc: JSONObject
    stamp: str
    owner: str | None = None
    scheduled_at: str | None = None
    scheduled_epoch: float | None = None
    following: float | None = None
    pause: JSONObject | None = None


def record_run(fire: Fire) -> Flow[None]:
    """Insert the run; for a scheduled one, check the claim and advance the schedule (or pause on failure)."""
    scheduled = fire.owner is not None
    if scheduled:
        row: Row | None = yield one(
            "SELECT claim_owner, next_fire_at FROM deployments WHERE id = $1{for_update}", fire.deployment_id
        )
        if row is None or row["claim_owner"] != fire.owner or row["next_fire_at"] != fire.scheduled_epoch:
            raise Conflict(
                f"deployment {fire.deployment_id}: the claim on this tick was lost", code=ErrorCode.LEASE_LOST
            )
    yield insert(
        "deployment_runs",
        {
            "id": fire.run_id,
            "deployment_id": fire.deployment_id,
            "workspace_id": fire.workspace_id,
            "trigger_type": fire.trigger_type,
            "scheduled_at": fire.scheduled_at,
            "doc": json.dumps(fire.doc),
            "has_error": int(fire.doc.get("error") is not None),
            "created_at": fire.stamp,
        },
    )
    if scheduled:
        yield from _advance(fire)
    return None


def _advance(fire: Fire) -> Flow[None]:
    following = None if fire.pause is not None else fire.following
    yield exec_(
        "UPDATE deployments SET next_fire_at = $1, last_run_at = $2, claim_owner = NULL, claim_expires = NULL,"
        " paused_reason = COALESCE($3, paused_reason) WHERE id = $4",
        following,
        fire.stamp,
        None if fire.pause is None else json.dumps(fire.pause),
        fire.deployment_id,
    )
    failed = fire.doc.get("error") is not None
    yield from webhook(fire.workspace_id, "deployment_run.started", fire.run_id, fire.stamp)
    outcome = "deployment_run.failed" if failed else "deployment_run.succeeded"
    yield from webhook(fire.workspace_id, outcome, fire.run_id, fire.stamp)
    if fire.pause is not None and _archives(fire.pause):
        yield exec_(
            "UPDATE deployments SET archived_at = $1, paused_reason = NULL WHERE id = $2",
            fire.stamp,
            fire.deployment_id,
        )
        yield from webhook(fire.workspace_id, "deployment.archived", fire.deployment_id, fire.stamp)
    elif fire.pause is not None:
        yield from webhook(fire.workspace_id, "deployment.paused", fire.deployment_id, fire.stamp)
    return None


def _archives(pause: JSONObject) -> bool:
    """An archived agent archives its deployment (api.md §15.2); other refusals pause it."""
    error = json_object(pause.get("error")) or {}
    return error.get("type") == "agent_archived_error"


def get_run(workspace_id: str, run_id: str) -> Flow[RunRecord]:
    row: Row | None = yield one(f"SELECT {RUN_COLUMNS} FROM deployment_runs WHERE id = $1", run_id)
    if row is None or row["workspace_id"] != workspace_id:
        raise NotFound(f"deployment run {run_id} not found")
    return RunRecord.from_row(row)


def runs_page(workspace_id: str, where: Where, limit: int, cursor: Cursor | None) -> Flow[Page]:
    where.equals("workspace_id", workspace_id)
    return (
        yield from newest_first("deployment_runs", RUN_COLUMNS, where, limit, cursor, RUN_SCOPE, RunRecord.from_row)
    )

"""Firing a deployment: a session created from it, and its run, in one transaction (api.md §15.1–§15.2).

Invariants:

* The session carries the deployment's pinned agent, environment, resources, vaults and initial events, and its
  ``deployment_id``; the run row (``flows.record_run``) commits in the session's own transaction, so a run names
  a session that exists and a session from a fire always has its run: a crash between the two is impossible.
* A scheduled fire records nothing unless its claim still holds (the compare-and-set in ``flows.record_run``):
  a fire that lost it rolls back, session included, and the tick belongs to whoever holds it.
* A fire the catalog refuses (agent or environment archived, vault gone …) records a run with ``error``; for a
  scheduled fire that also auto-pauses the deployment (``paused_reason: {type:"error"}``); a manual run does not.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from corral._types import JSONObject
from corral.api.schemas.sessions import SessionCreate
from corral.api.session_ops import create_session
from corral.compose.services import Services
from corral.db import UniqueViolation
from corral.deployments import cron, flows
from corral.deployments.records import DeploymentRecord, RunRecord
from corral.deployments.scheduler import Fire
from corral.errors import ErrorCode, InvalidRequest, RequestError
from corral.ids import new_id, rfc3339

log = logging.getLogger(__name__)

_RUN_ERRORS: dict[ErrorCode, str] = {
    ErrorCode.ENVIRONMENT_ARCHIVED: "environment_archived_error",
    ErrorCode.AGENT_ARCHIVED: "agent_archived_error",
    ErrorCode.ENVIRONMENT_NOT_FOUND: "environment_not_found_error",
    ErrorCode.VAULT_ARCHIVED: "vault_archived_error",
    ErrorCode.MEMORY_STORE_ARCHIVED: "memory_store_archived_error",
    ErrorCode.SELF_HOSTED_RESOURCES_UNSUPPORTED: "self_hosted_resources_unsupported_error",
}


def run_error(error: RequestError) -> JSONObject:
    return {"type": _RUN_ERRORS.get(error.code, "unknown_error"), "message": error.message}


def session_body(record: DeploymentRecord) -> SessionCreate:
    return SessionCreate.model_validate(
        {
            "agent": record.doc["agent"],
            "environment_id": record.doc["environment_id"],
            "initial_events": record.doc["initial_events"],
            "resources": record.doc["resources"] or None,
            "vault_ids": record.doc["vault_ids"] or None,
            "budget": record.doc.get("budget"),
        }
    )


async def _start(services: Services, record: DeploymentRecord, base: flows.Fire) -> flows.Fire:
    """Create the session with the run recorded in its transaction; the run as recorded. A refusal is returned as
    a failed run (not yet recorded) instead."""
    session_id = new_id("session")
    fire = replace(base, doc={"agent": record.doc["agent"], "session_id": session_id})
    try:
        await create_session(
            services,
            record.workspace_id,
            session_body(record),
            deployment_id=record.id,
            session_id=session_id,
            also=lambda: flows.record_run(fire),
        )
    except RequestError as refused:
        if refused.code == ErrorCode.LEASE_LOST:
            raise
        error = run_error(refused)
        pause: JSONObject = {"type": "error", "error": {"type": error["type"]}}
        return replace(base, doc={"agent": record.doc["agent"], "error": error}, pause=pause)
    return fire


async def run_now(services: Services, workspace_id: str, deployment_id: str) -> RunRecord:
    """``POST /v1/deployments/{id}/run``: works while paused; an archived deployment is refused."""
    record = await services.db.read(flows.get, workspace_id, deployment_id)
    if record.archived_at is not None:
        raise InvalidRequest(f"deployment {deployment_id} is archived")
    stamp = rfc3339(datetime.now(UTC))
    base = flows.Fire(workspace_id, deployment_id, new_id("deployment_run"), "manual", {}, stamp)
    fire = await _start(services, record, base)
    if fire.doc.get("error") is not None:
        await services.db.write(flows.record_run, replace(fire, pause=None))
    return await services.db.read(flows.get_run, workspace_id, fire.run_id)


def scheduled_fire(services: Services) -> Fire:
    """The scheduler's ``fire`` for this server's services."""

    async def fire(deployment_id: str, owner: str, now: float) -> None:
        record = await services.db.read(flows.find, deployment_id)
        if record is None or record.schedule is None or record.next_fire_at is None:
            return  # changed since the claim: the write that changed it released the claim
        scheduled = datetime.fromtimestamp(record.next_fire_at, UTC)
        following = cron.next_after(record.schedule, max(scheduled, datetime.fromtimestamp(now, UTC)))
        base = flows.Fire(
            record.workspace_id,
            record.id,
            new_id("deployment_run"),
            "schedule",
            {},
            rfc3339(datetime.now(UTC)),
            owner=owner,
            scheduled_at=rfc3339(scheduled),
            scheduled_epoch=record.next_fire_at,
            following=following.timestamp(),
        )
        try:
            done = await _start(services, record, base)
            if done.pause is not None:
                await services.db.write(flows.record_run, done)
        except (RequestError, UniqueViolation) as lost:
            if isinstance(lost, RequestError) and lost.code != ErrorCode.LEASE_LOST:
                raise
            log.info("deployment %s: another scheduler holds this tick", deployment_id)

    return fire

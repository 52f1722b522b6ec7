"""Creating and changing deployments (api.md §15.1): requests checked against the catalog, then one write each.

Invariants:

* The agent is pinned at write time: an id string pins the latest version, ``{type:"agent", id, version}`` that
  version; it must exist and not be archived. The environment must exist and not be archived; each vault must be
  attachable (``VaultStore.check_attachable``); resources are checked like a session's (nothing written).
* A ``budget`` is checked like a session's (``corral.api.budgets``: the agent's model must have a list price);
  sessions a deployment starts get a copy of it. What this server cannot honour is refused with a clear 400
  before anything is written: ``github_repository`` resources (their write-only token would have to be kept
  for every future fire; not built yet).
* ``next_fire_at`` is recomputed on every write from the schedule and the writer's clock (``flows`` keeps it
  NULL unless active, scheduled and not archived): unpausing resumes at the next occurrence, with no backfill.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from corral._types import JSONObject, json_object
from corral.api import budgets, resource_ops
from corral.api.schemas.deployments import DeploymentCreate, DeploymentUpdate, ScheduleParams
from corral.api.schemas.resources import GitHubRepositoryParams, ResourceParam
from corral.api.schemas.sessions import BudgetLimit
from corral.catalog.params import AgentRef
from corral.compose.services import Services
from corral.deployments import cron, flows
from corral.deployments.records import DeploymentRecord, schedule_json
from corral.errors import ErrorCode, InvalidRequest
from corral.ids import new_id, rfc3339
from corral.wire import patch_metadata


async def agent_ref(services: Services, workspace_id: str, agent: str | AgentRef | JSONObject) -> JSONObject:
    """``{type:"agent", id, version}`` of an agent that exists and is not archived."""
    snapshot = await _snapshot(services, workspace_id, agent)
    return {"type": "agent", "id": snapshot["id"], "version": snapshot["version"]}


async def _snapshot(services: Services, workspace_id: str, agent: str | AgentRef | JSONObject) -> JSONObject:
    ref = AgentRef.model_validate(agent) if isinstance(agent, dict) else agent
    return await services.catalog.session_agent(workspace_id, ref)


async def checked_budget(
    services: Services, workspace_id: str, budget: BudgetLimit | None, agent: str | AgentRef | JSONObject
) -> JSONObject | None:
    """The budget as stored; the deployment agent's model must have a list price (``corral.api.budgets``)."""
    if budget is None:
        return None
    snapshot = await _snapshot(services, workspace_id, agent)
    return budgets.checked(services.settings.prices, budget, budgets.session_models(snapshot))


async def check_environment(services: Services, workspace_id: str, environment_id: str) -> None:
    environment = await services.catalog.get_environment(workspace_id, environment_id)
    if environment.archived_at is not None:
        raise InvalidRequest(f"environment {environment.id} is archived", code=ErrorCode.ENVIRONMENT_ARCHIVED)


async def check_resources(services: Services, workspace_id: str, params: Sequence[ResourceParam]) -> list[JSONObject]:
    if any(isinstance(param, GitHubRepositoryParams) for param in params):
        raise InvalidRequest(
            "github_repository resources are not supported on deployments yet (their token would be kept for every"
            " fire); attach repositories to sessions instead",
            code=ErrorCode.NOT_SUPPORTED,
        )
    await resource_ops.build(services, workspace_id, params)
    return [param.model_dump(mode="json", exclude_unset=True) for param in params]


def schedule_of(params: ScheduleParams | None) -> cron.Schedule | None:
    return None if params is None else cron.parse(params.expression, params.timezone)


def fire_at(schedule: cron.Schedule | None, paused: bool, now: datetime) -> float | None:
    if schedule is None or paused:
        return None
    return cron.next_after(schedule, now).timestamp()


async def create(services: Services, workspace_id: str, body: DeploymentCreate) -> DeploymentRecord:
    schedule = schedule_of(body.schedule)
    agent = await agent_ref(services, workspace_id, body.agent)
    budget = await checked_budget(services, workspace_id, body.budget, agent)
    await check_environment(services, workspace_id, body.environment_id)
    vault_ids = await services.vaults.check_attachable(workspace_id, body.vault_ids or [])
    doc: JSONObject = {
        "name": body.name,
        "description": body.description,
        "agent": agent,
        "environment_id": body.environment_id,
        "initial_events": [event.model_dump(mode="json", exclude_unset=True) for event in body.initial_events],
        "resources": await check_resources(services, workspace_id, body.resources or []),
        "vault_ids": vault_ids,
        "metadata": dict(body.metadata or {}),
        "budget": budget,
    }
    now = datetime.now(UTC)
    fields = flows.Fields(str(agent["id"]), doc, schedule_json(schedule), None, fire_at(schedule, False, now))
    return await services.db.write(flows.create, workspace_id, new_id("deployment"), fields, rfc3339(now))


async def update(
    services: Services, workspace_id: str, current: DeploymentRecord, body: DeploymentUpdate
) -> DeploymentRecord:
    sent = body.model_fields_set
    for name in ("agent", "environment_id", "initial_events", "name"):
        if name in sent and getattr(body, name) is None:
            raise InvalidRequest(f"{name} cannot be cleared")
    doc: dict[str, Any] = dict(current.doc)
    if body.agent is not None:
        doc["agent"] = await agent_ref(services, workspace_id, body.agent)
    if "budget" in sent:
        doc["budget"] = await checked_budget(services, workspace_id, body.budget, doc["agent"])
    elif body.agent is not None and doc.get("budget") is not None:  # the new agent's model must be priced too
        await checked_budget(services, workspace_id, BudgetLimit.model_validate(doc["budget"]), doc["agent"])
    if body.environment_id is not None:
        await check_environment(services, workspace_id, body.environment_id)
        doc["environment_id"] = body.environment_id
    if body.initial_events is not None:
        doc["initial_events"] = [event.model_dump(mode="json", exclude_unset=True) for event in body.initial_events]
    if "resources" in sent:
        doc["resources"] = await check_resources(services, workspace_id, body.resources or [])
    if "vault_ids" in sent:
        doc["vault_ids"] = await services.vaults.check_attachable(workspace_id, body.vault_ids or [])
    for name in ("name", "description"):
        if name in sent:
            doc[name] = getattr(body, name)
    if "metadata" in sent:
        doc["metadata"] = patch_metadata(doc.get("metadata") or {}, body.metadata)
    schedule = schedule_of(body.schedule) if "schedule" in sent else current.schedule
    return await write(services, current, doc, schedule, current.paused_reason, "deployment.updated")


async def set_paused(services: Services, current: DeploymentRecord, paused: bool) -> DeploymentRecord:
    reason: JSONObject | None = {"type": "manual"} if paused else None
    event = "deployment.paused" if paused else "deployment.unpaused"
    return await write(services, current, current.doc, current.schedule, reason, event)


async def write(
    services: Services,
    current: DeploymentRecord,
    doc: JSONObject,
    schedule: cron.Schedule | None,
    paused_reason: JSONObject | None,
    event: str,
) -> DeploymentRecord:
    now = datetime.now(UTC)
    agent = json_object(doc["agent"]) or {}
    fields = flows.Fields(
        str(agent.get("id")),
        doc,
        schedule_json(schedule),
        None if paused_reason is None else json.dumps(paused_reason),
        fire_at(schedule, paused_reason is not None, now),
    )
    return await services.db.write(flows.replace, current.workspace_id, current.id, fields, event, rfc3339(now))

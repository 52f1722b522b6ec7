"""Creating and updating sessions: the catalog resolves the agent and environment, the store writes.

Invariants:

* A session's ``agent`` is a snapshot of one agent version (plus session-local overrides); later agent
  updates never change it. Its skills are pinned to concrete versions then (``corral.resources.skills.pin``).
* A ``budget`` is checked (``corral.api.budgets``) before anything is written; the environment must exist and
  not be archived; each of ``vault_ids`` must name a vault of the session's workspace (404) that is not archived
  (400). Vaults attach at creation only.
* ``resources`` are checked in full (``corral.api.resource_ops``) before the session is written; the session, its
  resources and their sealed tokens are written in one transaction.
* Client events become ``NewEvent`` s; those the agent takes up later (messages, interrupts, confirmations,
  system messages) are *queued* (``processed_at`` null until the harness stamps them); tool results are
  processed on receipt.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from corral._types import JSONObject, json_object
from corral.api import budgets, outcome_ops, resource_ops
from corral.api.schemas.events import ClientEvent
from corral.api.schemas.sessions import SessionCreate, SessionUpdate
from corral.catalog import multiagent
from corral.compose.services import Services
from corral.db import Flow
from corral.errors import ErrorCode, InvalidRequest
from corral.ids import new_id
from corral.resources import skills
from corral.session import Event, NewEvent, NewSession, SessionRecord
from corral.session.quotas import session_cap
from corral.session.resources import Also, check_mounts
from corral.vocab.events import ClientEventType
from corral.work import flows as work_flows

#: echoed with ``processed_at: null`` until the harness takes them up (``user.interrupt`` too: the harness treats
#: an unstamped interrupt after the last idle event as one still to handle, see ``corral.harness.log``)
QUEUED_TYPES: frozenset[ClientEventType] = frozenset(
    ("user.message", "user.interrupt", "user.tool_confirmation", "system.message")
)


def new_event(param: ClientEvent) -> NewEvent:
    data: dict[str, Any] = param.model_dump(exclude_unset=True, exclude={"type"}, mode="json")
    return NewEvent(param.type, data, queued=param.type in QUEUED_TYPES)


def refuse_team(snapshot: JSONObject, environment: JSONObject, *, budgeted: bool = False) -> None:
    """What a session's threads cannot do here yet is refused by name rather than left out (``multiagent``)."""
    team = json_object(snapshot.get("multiagent"))
    problem = multiagent.unsupported_at_run_time(team)
    if team and environment.get("type") == "self_hosted":
        problem = "threads in self_hosted environments (a sub-agent's tools on the customer's worker) are not supported"
    if team and budgeted:
        problem = (
            "budget: a budget on a session with threads (multiagent) is not supported yet: its threads' model"
            " requests would not be counted against it"
        )
    if problem is not None:
        raise InvalidRequest(problem, code=ErrorCode.NOT_SUPPORTED)


async def create_session(
    services: Services,
    workspace_id: str,
    body: SessionCreate,
    *,
    deployment_id: str | None = None,
    session_id: str | None = None,
    also: Also | None = None,
) -> tuple[SessionRecord, list[Event]]:
    """``deployment_id``/``session_id``/``also``: a deployment's fire (``corral.api.deployment_fire``) names the
    session and commits its run with it."""
    environment = await services.catalog.get_environment(workspace_id, body.environment_id)
    if environment.archived_at is not None:
        raise InvalidRequest(f"environment {environment.id} is archived", code=ErrorCode.ENVIRONMENT_ARCHIVED)
    snapshot = await services.catalog.session_agent(workspace_id, body.agent)
    refuse_team(snapshot, environment.config, budgeted=body.budget is not None)
    pinned = await skills.pin(services.skills, workspace_id, snapshot)
    snapshot["skills"] = skills.pinned_wire(pinned)
    prices = services.settings.prices
    budget = None if body.budget is None else budgets.checked(prices, body.budget, budgets.session_models(snapshot))
    vault_ids = await services.vaults.check_attachable(workspace_id, body.vault_ids or [])
    resource_ops.refuse_on_self_hosted(environment.config, body.resources or [])
    built = await resource_ops.build(services, workspace_id, body.resources or [])
    check_mounts(built.resources)
    doc: JSONObject = {
        "title": body.title,
        "metadata": dict(body.metadata or {}),
        "agent": snapshot,
        "resources": built.resources,
        "vault_ids": vault_ids,
        "budget": budget,
        "deployment_id": deployment_id,
        "outcome_evaluations": [],
        skills.SKILLS_KEY: pinned,
    }
    events = await outcome_ops.prepared(
        services, workspace_id, [new_event(event) for event in body.initial_events or []]
    )
    session_id = session_id or new_id("session")
    new = NewSession(workspace_id, snapshot["id"], int(snapshot["version"]), environment.id, doc, events, session_id)
    first = built.also(services, workspace_id, session_id)
    if environment.config.get("type") == "self_hosted":  # its worker takes the session from the work queue
        ttl = services.settings.work_lease_ttl_seconds
        first = work_flows.enqueue_with(first, workspace_id, environment.id, session_id, ttl)
    limit = services.settings.max_sessions_per_workspace
    if limit > 0:
        first = both(partial(session_cap, workspace_id, limit), first)
    return await services.sessions.create_session(new, also=both(first, also))


def both(first: Also | None, second: Also | None) -> Also | None:
    """One flow step running ``first`` then ``second`` (either may be None)."""
    if first is None or second is None:
        return first or second

    def run() -> Flow[None]:
        yield from first()
        yield from second()
        return None

    return run


async def session_changes(services: Services, record: SessionRecord, body: SessionUpdate) -> JSONObject:
    """The doc changes of an update, validated (the store applies them and emits ``session.updated``)."""
    sent = body.sent()
    if "vault_ids" in sent:
        raise InvalidRequest("vault_ids cannot be changed after creation", code=ErrorCode.NOT_SUPPORTED)
    changes: JSONObject = {}
    if "budget" in sent:
        changes["budget"] = budgets.update(services.settings.prices, record, body.budget)
    if "title" in sent:
        changes["title"] = sent["title"]
    if "metadata" in sent:
        changes["metadata"] = sent["metadata"] or {}
    if body.agent is not None and body.agent.model_fields_set:
        snapshot = json_object(record.doc.get("agent"))
        if snapshot is None:
            raise InvalidRequest("this session was not created from an agent; its tools cannot be changed")
        changes["agent"] = services.catalog.replace_session_tools(snapshot, body.agent)
        budgets.check_agent_change(services.settings.prices, record, changes)
    return changes

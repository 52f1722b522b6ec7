"""An agent's ``multiagent`` field resolved against the stored agents (api.md §17), as flows.

Two forms are stored, each exactly as the SDK's ``BetaManagedAgentsMultiagent`` reads it back:

* ``{"type": "coordinator", "agents": [...]}``: every roster entry resolved to ``{type: "agent", id, version}``
  (a bare id pins the latest version at save time; ``self`` is this agent at this version) or
  ``{type: "advisor", model}``.
* ``{"type": "multiagent_20261001", "advisor", "subagents", "workflows"}``: every member present, ``enabled``
  or ``disabled``, defaults applied; ``predefined_agents`` resolved like roster entries.

Invariants:

* A referenced agent exists in the same workspace, is not archived, and has no ``multiagent`` of its own at the
  pinned version (delegation is one level deep); entries are distinct agents; at most one ``self`` and one
  advisor; an agent names itself only as ``self`` (so ``restamp`` can find every self entry by id).
* ``self`` entries always carry the version of the config that holds them (``restamp`` on every new version).
* Workflow runs (``workflow_run.*``) are not built: ``workflows`` is stored ``disabled`` (also when omitted,
  where the hosted default is enabled) and ``{"type": "enabled"}`` is a 400 naming them.
* On update a ``multiagent_20261001`` is merged level by level into a stored one: an omitted member (or
  ``inline_agents``/``predefined_agents`` inside an enabled member) keeps its stored value; ``null`` is the default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from corral._types import JSONObject
from corral.catalog.agent_config import check_model_id
from corral.catalog.limits import CatalogLimits
from corral.catalog.params.multiagent import (
    AdvisorRef,
    Coordinator,
    Disabled,
    MembersEnabled,
    Multiagent,
    Multiagent20261001,
    PredefinedAgent,
    SelfRef,
)
from corral.db import Flow, one
from corral.errors import ErrorCode, InvalidRequest
from corral.ids import is_id

COORDINATOR = "coordinator"
MULTIAGENT_20261001 = "multiagent_20261001"
ADVISOR_NAME = "anthropic.advisor"
_ENABLED: JSONObject = {"type": "enabled"}
_DISABLED: JSONObject = {"type": "disabled"}


@dataclass(frozen=True)
class Owner:
    """The agent whose configuration is resolved: what ``self`` means, and where references are looked up."""

    workspace_id: str
    agent_id: str
    version: int
    limits: CatalogLimits


def resolve(owner: Owner, params: Multiagent, stored: Mapping[str, Any] | None) -> Flow[JSONObject]:
    """The stored form of ``params``; ``stored`` is the current value (merged into on update)."""
    if isinstance(params, Coordinator):
        return (yield from _coordinator(owner, params))
    return (yield from _multiagent(owner, params, stored))


def restamp(multiagent: Mapping[str, Any] | None, agent_id: str, version: int) -> JSONObject | None:
    """``multiagent`` with every ``self`` entry (an entry naming ``agent_id``) at ``version``."""
    if multiagent is None:
        return None
    copy: JSONObject = json.loads(json.dumps(multiagent))
    for refs in _reference_lists(copy):
        for ref in refs:
            if ref.get("type") == "agent" and ref.get("id") == agent_id:
                ref["version"] = version
    return copy


def referenced(multiagent: Mapping[str, Any] | None) -> list[JSONObject]:
    """Every ``{type: "agent", id, version}`` the configuration names (roster, predefined agents)."""
    return [ref for refs in _reference_lists(multiagent) for ref in refs if ref.get("type") == "agent"]


def _reference_lists(multiagent: Mapping[str, Any] | None) -> list[list[JSONObject]]:
    if not multiagent:
        return []
    if multiagent.get("type") == COORDINATOR:
        return [multiagent["agents"]]
    members: list[Mapping[str, Any]] = [multiagent.get("subagents") or {}, multiagent.get("workflows") or {}]
    return [member["predefined_agents"] for member in members if member.get("type") == "enabled"]


def _coordinator(owner: Owner, params: Coordinator) -> Flow[JSONObject]:
    entries: list[JSONObject] = []
    if sum(isinstance(entry, SelfRef) for entry in params.agents) > 1:
        raise InvalidRequest('multiagent.agents: at most one {"type": "self"} entry')
    if sum(isinstance(entry, AdvisorRef) for entry in params.agents) > 1:
        raise InvalidRequest('multiagent.agents: at most one {"type": "advisor"} entry')
    for index, entry in enumerate(params.agents):
        where = f"multiagent.agents[{index}]"
        if isinstance(entry, AdvisorRef):
            check_model_id(entry.model, owner.limits)
            entries.append({"type": "advisor", "model": entry.model})
        else:
            entries.append((yield from _reference(owner, entry, where)))
    _distinct(entries, "multiagent.agents")
    return {"type": COORDINATOR, "agents": entries}


def _multiagent(owner: Owner, params: Multiagent20261001, stored: Mapping[str, Any] | None) -> Flow[JSONObject]:
    base: Mapping[str, Any] = stored if stored and stored.get("type") == MULTIAGENT_20261001 else {}
    sent = params.model_fields_set
    advisor = _advisor(owner, params) if "advisor" in sent or not base else base["advisor"]
    if params.workflows is not None and not isinstance(params.workflows, Disabled):
        raise InvalidRequest(
            "multiagent.workflows: workflow runs (agent-written plan programs, workflow_run.* events) are not"
            ' supported by this server; omit workflows or send {"type": "disabled"}',
            code=ErrorCode.NOT_SUPPORTED,
        )
    subagents = base.get("subagents") if "subagents" not in sent and base else None
    if subagents is None:
        subagents = yield from _members(owner, params.subagents, base.get("subagents"), "multiagent.subagents")
    return {"type": MULTIAGENT_20261001, "advisor": advisor, "subagents": subagents, "workflows": dict(_DISABLED)}


def _advisor(owner: Owner, params: Multiagent20261001) -> JSONObject:
    if params.advisor is None or isinstance(params.advisor, Disabled):
        return dict(_DISABLED)
    check_model_id(params.advisor.model, owner.limits)
    return {"type": "enabled", "model": params.advisor.model}


def _members(
    owner: Owner, value: MembersEnabled | Disabled | None, stored: Mapping[str, Any] | None, where: str
) -> Flow[JSONObject]:
    """``subagents`` resolved (``null``: enabled with inline agents and no predefined agents)."""
    if isinstance(value, Disabled):
        return dict(_DISABLED)
    if value is None:
        return {"type": "enabled", "inline_agents": dict(_ENABLED), "predefined_agents": []}
    prior: Mapping[str, Any] = stored if stored and stored.get("type") == "enabled" else {}
    sent = value.model_fields_set
    if "inline_agents" in sent or not prior:
        inline = {"type": value.inline_agents.type} if value.inline_agents else dict(_ENABLED)
    else:
        inline = prior["inline_agents"]
    if "predefined_agents" in sent or not prior:
        predefined = yield from _predefined(owner, value.predefined_agents or [], f"{where}.predefined_agents")
    else:
        predefined = list(prior.get("predefined_agents") or [])
    if inline["type"] == "disabled" and not predefined:
        raise InvalidRequest(f"{where}: with inline_agents disabled, predefined_agents must name at least one agent")
    return {"type": "enabled", "inline_agents": inline, "predefined_agents": predefined}


def _predefined(owner: Owner, entries: list[PredefinedAgent], where: str) -> Flow[list[JSONObject]]:
    if sum(isinstance(entry, SelfRef) for entry in entries) > 1:
        raise InvalidRequest(f'{where}: at most one {{"type": "self"}} entry')
    resolved: list[JSONObject] = []
    for index, entry in enumerate(entries):
        resolved.append((yield from _reference(owner, entry, f"{where}[{index}]")))
    _distinct(resolved, where)
    return resolved


def _distinct(entries: list[JSONObject], where: str) -> None:
    seen: set[str] = set()
    for entry in entries:
        agent_id = entry.get("id")
        if isinstance(agent_id, str):
            if agent_id in seen:
                raise InvalidRequest(f"{where}: agent {agent_id} is listed twice; entries must be distinct agents")
            seen.add(agent_id)


def _reference(owner: Owner, entry: PredefinedAgent, where: str) -> Flow[JSONObject]:
    """A roster entry (other than the advisor) as ``{type: "agent", id, version}``, checked against storage."""
    if isinstance(entry, SelfRef):
        return {"type": "agent", "id": owner.agent_id, "version": owner.version}
    agent_id, version = (entry, None) if isinstance(entry, str) else (entry.id, entry.version)
    if agent_id == owner.agent_id:
        raise InvalidRequest(f'{where}: an agent refers to itself as {{"type": "self"}}, not by its id')
    if not is_id("agent", agent_id):
        raise InvalidRequest(f"{where}: {agent_id!r} is not an agent id (agent_…)", code=ErrorCode.INVALID_ID)
    row = yield one("SELECT workspace_id, version, doc, archived_at FROM agents WHERE id = $1", agent_id)
    if row is None or row["workspace_id"] != owner.workspace_id:
        raise InvalidRequest(f"{where}: agent {agent_id} not found")
    if row["archived_at"] is not None:
        raise InvalidRequest(f"{where}: agent {agent_id} is archived", code=ErrorCode.AGENT_ARCHIVED)
    doc = row["doc"]
    if version is not None and version != int(row["version"]):
        old = yield one("SELECT doc FROM agent_versions WHERE agent_id = $1 AND version = $2", agent_id, version)
        if old is None:
            raise InvalidRequest(f"{where}: agent {agent_id} has no version {version}")
        doc = old["doc"]
    pinned = int(row["version"]) if version is None else version
    if json.loads(doc).get("multiagent") is not None:
        raise InvalidRequest(
            f"{where}: agent {agent_id} (version {pinned}) has a multiagent configuration of its own; delegation is"
            " one level deep"
        )
    return {"type": "agent", "id": agent_id, "version": pinned}


def expand(multiagent: Mapping[str, Any], definitions: Mapping[tuple[str, int], JSONObject]) -> JSONObject:
    """A session's copy of ``multiagent`` (``BetaManagedAgentsSessionMultiagent``): every ``{type: "agent"}``
    reference replaced by its full definition from ``definitions`` (keyed by ``(id, version)``)."""
    copy: JSONObject = json.loads(json.dumps(multiagent))
    for refs in _reference_lists(copy):
        refs[:] = [definitions[(ref["id"], ref["version"])] if ref.get("type") == "agent" else ref for ref in refs]
    return copy


def thread_agent(snapshot: Mapping[str, Any]) -> JSONObject:
    """An agent snapshot as a thread runs it (``BetaManagedAgentsSessionThreadAgent``: no roster of its own)."""
    return {key: value for key, value in snapshot.items() if key != "multiagent"}


def unsupported_at_run_time(multiagent: Mapping[str, Any] | None) -> str | None:
    """Why a session of an agent with this ``multiagent`` cannot run here yet (None: it can). Threads run the saved
    agents of a roster; an advisor and inline agents are refused by name rather than left out."""
    if not multiagent:
        return None
    advisor = "advisor consultations are not supported by this server yet"
    if multiagent.get("type") == COORDINATOR:
        entries: list[Mapping[str, Any]] = multiagent.get("agents") or []
        return f"multiagent.agents: {advisor}" if any(entry.get("type") == "advisor" for entry in entries) else None
    advised: Mapping[str, Any] = multiagent.get("advisor") or {}
    if advised.get("type") == "enabled":
        return f"multiagent.advisor: {advisor}"
    subagents: Mapping[str, Any] = multiagent.get("subagents") or {}
    inline: Mapping[str, Any] = subagents.get("inline_agents") or {}
    if subagents.get("type") == "enabled" and inline.get("type") == "enabled":
        return (
            "multiagent.subagents.inline_agents: inline agents are not supported by this server yet; set"
            ' inline_agents to {"type": "disabled"} and name predefined_agents'
        )
    return None

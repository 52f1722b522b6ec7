"""An agent's ``multiagent`` through the official SDK, on both engines (api.md §17): both forms resolved, wire-exact
per the SDK's response models, merged on update, and every bad roster a 400 that names what is wrong."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic.types.beta import BetaManagedAgentsAgent, BetaManagedAgentsBudgetLimitParam

from tests.conformance.helpers import new_agent, unique, validated


def _refused(client: anthropic.Anthropic, multiagent: Any, *words: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.beta.agents.create(name=unique("coord"), model="claude-sonnet-4-6", multiagent=multiagent)
    message = str(caught.value.message)
    assert all(word in message for word in words), message


def test_a_coordinator_roster_is_resolved_to_pinned_versions(client: anthropic.Anthropic) -> None:
    worker = new_agent(client)
    client.beta.agents.update(worker.id, version=1, system="v2")
    helper = new_agent(client)
    roster: list[Any] = [
        worker.id,
        {"type": "agent", "id": helper.id, "version": 1},
        {"type": "self"},
        {"type": "advisor", "model": "claude-opus-4-6"},
    ]
    raw = client.beta.agents.with_raw_response.create(
        name=unique("coord"), model="claude-sonnet-4-6", multiagent={"type": "coordinator", "agents": roster}
    )
    coordinator = validated(BetaManagedAgentsAgent, raw)
    assert coordinator.multiagent is not None and coordinator.multiagent.type == "coordinator"
    assert [entry.model_dump() for entry in coordinator.multiagent.agents] == [
        {"type": "agent", "id": worker.id, "version": 2},
        {"type": "agent", "id": helper.id, "version": 1},
        {"type": "agent", "id": coordinator.id, "version": 1},
        {"type": "advisor", "model": "claude-opus-4-6"},
    ]
    updated = client.beta.agents.update(coordinator.id, version=1, system="lead")
    assert updated.multiagent is not None and updated.multiagent.type == "coordinator"
    assert updated.multiagent.agents[2].model_dump() == {"type": "agent", "id": coordinator.id, "version": 2}


def test_multiagent_20261001_defaults_and_merges_level_by_level(client: anthropic.Anthropic) -> None:
    worker = new_agent(client)
    raw = client.beta.agents.with_raw_response.create(
        name=unique("team"), model="claude-sonnet-4-6", multiagent={"type": "multiagent_20261001"}
    )
    team = validated(BetaManagedAgentsAgent, raw)
    assert team.multiagent is not None and team.multiagent.model_dump() == {
        "type": "multiagent_20261001",
        "advisor": {"type": "disabled"},
        "subagents": {"type": "enabled", "inline_agents": {"type": "enabled"}, "predefined_agents": []},
        "workflows": {"type": "disabled"},
    }
    subagents: Any = {"type": "enabled", "predefined_agents": [worker.id, {"type": "self"}]}
    client.beta.agents.update(team.id, version=1, multiagent={"type": "multiagent_20261001", "subagents": subagents})
    merged = client.beta.agents.update(
        team.id,
        version=2,
        multiagent={
            "type": "multiagent_20261001",
            "advisor": {"type": "enabled", "model": "claude-opus-4-6"},
            "subagents": {"type": "enabled", "inline_agents": {"type": "disabled"}},
        },
    )
    assert merged.multiagent is not None and merged.multiagent.model_dump() == {
        "type": "multiagent_20261001",
        "advisor": {"type": "enabled", "model": "claude-opus-4-6"},
        "subagents": {
            "type": "enabled",
            "inline_agents": {"type": "disabled"},
            "predefined_agents": [
                {"type": "agent", "id": worker.id, "version": 1},
                {"type": "agent", "id": team.id, "version": 3},
            ],
        },
        "workflows": {"type": "disabled"},
    }
    cleared = client.beta.agents.update(team.id, version=3, multiagent=None)
    assert cleared.multiagent is None and cleared.version == 4


def test_bad_rosters_are_400s_naming_the_problem(client: anthropic.Anthropic) -> None:
    archived = new_agent(client)
    client.beta.agents.archive(archived.id)
    _refused(client, {"type": "coordinator", "agents": [archived.id]}, "agents[0]", archived.id, "archived")
    leaf = new_agent(client)
    lead = new_agent(client, multiagent={"type": "coordinator", "agents": [leaf.id]})
    _refused(client, {"type": "coordinator", "agents": [lead.id]}, lead.id, "one level deep")
    _refused(client, {"type": "multiagent_20261001", "subagents": {"type": "enabled", "predefined_agents": [lead.id]}},
             "predefined_agents[0]", "one level deep")  # fmt: skip
    _refused(client, {"type": "coordinator", "agents": [leaf.id] * 21}, "agents")
    _refused(client, {"type": "coordinator", "agents": []}, "agents")
    _refused(client, {"type": "coordinator", "agents": [leaf.id, leaf.id]}, leaf.id, "twice")
    _refused(client, {"type": "coordinator", "agents": [{"type": "self"}, {"type": "self"}]}, "self")
    _refused(client, {"type": "coordinator", "agents": ["agent_missing0000000000000000"]}, "not found")
    _refused(client, {"type": "multiagent_20261001", "workflows": {"type": "enabled"}}, "workflow", "not supported")
    _refused(
        client,
        {"type": "multiagent_20261001", "subagents": {"type": "enabled", "inline_agents": {"type": "disabled"}}},
        "predefined_agents",
    )
    _refused(client, {"type": "multiagent_20261001", "advisor": {"type": "enabled", "model": "nope:"}}, "nope")


def test_sessions_refuse_what_threads_cannot_do_yet(client: anthropic.Anthropic) -> None:
    member = new_agent(client)
    environment = client.beta.environments.create(name=unique("env"))
    inline = new_agent(client, multiagent={"type": "multiagent_20261001"})
    advised = new_agent(
        client,
        multiagent={"type": "coordinator", "agents": [member.id, {"type": "advisor", "model": "claude-opus-4-6"}]},
    )
    for agent, words in ((inline, "inline_agents"), (advised, "advisor")):
        with pytest.raises(anthropic.BadRequestError, match=words):
            client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
    team = new_agent(client, multiagent={"type": "coordinator", "agents": [member.id, {"type": "self"}]})
    with pytest.raises(anthropic.BadRequestError, match="budget on a session with threads"):
        cap: BetaManagedAgentsBudgetLimitParam = {
            "type": "limit",
            "max_list_cost": {"amount": "500", "currency": "USD"},
        }
        client.beta.sessions.create(agent=team.id, environment_id=environment.id, budget=cap)
    session = client.beta.sessions.create(agent=team.id, environment_id=environment.id)
    assert session.agent.multiagent is not None and session.agent.multiagent.type == "coordinator"
    expanded = [entry.model_dump() for entry in session.agent.multiagent.agents]
    assert [(entry["id"], entry["name"], "multiagent" in entry) for entry in expanded] == [
        (member.id, member.name, False),
        (team.id, team.name, False),
    ]

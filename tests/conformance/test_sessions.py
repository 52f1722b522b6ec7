"""``client.beta.sessions`` through the official SDK, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import pytest
from anthropic.types.beta import (
    BetaEnvironmentArchivedError,
    BetaEnvironmentNotFoundError,
    BetaManagedAgentsDeletedSession,
    BetaManagedAgentsSession,
)

from tests.conformance.helpers import (
    error_body,
    new_agent,
    new_environment,
    new_session,
    off_spec,
    unique,
    user_message,
    validated,
)

CUSTOM_TOOL: Any = {"type": "custom", "name": "lookup", "description": "look up", "input_schema": {"type": "object"}}


def test_create_snapshots_the_agent(client: anthropic.Anthropic) -> None:
    agent = new_agent(client, system="hello", tools=[{"type": "agent_toolset_20260401"}])
    env = new_environment(client)
    raw = client.beta.sessions.with_raw_response.create(
        agent=agent.id, environment_id=env.id, title="first", metadata={"k": "v"}
    )
    session = validated(BetaManagedAgentsSession, raw)
    assert session.id.startswith("sesn_") and session.type == "session" and session.status == "idle"
    assert session.title == "first" and session.metadata == {"k": "v"} and session.environment_id == env.id
    assert session.agent.id == agent.id and session.agent.version == 1 and session.agent.system == "hello"
    assert session.agent.tools[0].type == "agent_toolset_20260401" and len(session.agent.tools[0].configs) == 8
    assert session.resources == [] and session.vault_ids == [] and session.budget is None
    assert session.outcome_evaluations == [] and session.deployment_id is None and session.archived_at is None
    assert session.stats.active_seconds == 0 and session.usage.input_tokens == 0
    client.beta.agents.update(agent.id, system="changed")
    again = validated(BetaManagedAgentsSession, client.beta.sessions.with_raw_response.retrieve(session.id))
    assert again.agent.system == "hello" and again.stats.duration_seconds is not None


def test_create_pins_a_version_and_applies_overrides(client: anthropic.Anthropic) -> None:
    agent = new_agent(client, model={"id": "claude-m1", "effort": "low"}, system="v1")
    client.beta.agents.update(agent.id, system="v2")
    env = new_environment(client)
    pinned = client.beta.sessions.create(agent={"type": "agent", "id": agent.id, "version": 1}, environment_id=env.id)
    assert (pinned.agent.version, pinned.agent.system) == (1, "v1")
    raw = client.beta.sessions.with_raw_response.create(
        agent={
            "type": "agent_with_overrides",
            "id": agent.id,
            "model": {"id": "claude-m2", "effort": "max", "inference_geo": "eu"},
            "system": None,
            "tools": [CUSTOM_TOOL],
        },
        environment_id=env.id,
    )
    session = validated(BetaManagedAgentsSession, raw)
    assert session.agent.version == 2 and session.agent.system is None
    assert session.agent.model.id == "claude-m2" and session.agent.model.inference_geo == "eu"
    assert session.agent.model.effort is not None and session.agent.model.effort.type == "low"  # override ignored
    assert [tool.type for tool in session.agent.tools] == ["custom"]
    assert client.beta.agents.retrieve(agent.id).tools == []


def test_create_refusals(client: anthropic.Anthropic) -> None:
    agent, env = new_agent(client), new_environment(client)
    with pytest.raises(anthropic.BadRequestError) as no_model:
        client.beta.sessions.create(
            agent=off_spec({"type": "agent_with_overrides", "id": agent.id, "model": None}), environment_id=env.id
        )
    assert error_body(no_model.value)["error"]["details"]["error_code"] == "agent_model_required"
    with pytest.raises(BetaEnvironmentNotFoundError):
        client.beta.sessions.create(agent=agent.id, environment_id="env_missing000000000000000000")
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.create(agent="agent_missing00000000000000000", environment_id=env.id)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.create(agent=env.id, environment_id=env.id)
    with pytest.raises(anthropic.NotFoundError):  # vaults attach now (tests/vault): an unknown one is a 404
        client.beta.sessions.create(agent=agent.id, environment_id=env.id, vault_ids=["vlt_abc"])
    with pytest.raises(anthropic.NotFoundError):  # resources attach now (tests/resources): an unknown file is a 404
        client.beta.sessions.create(
            agent=agent.id, environment_id=env.id, resources=[{"type": "file", "file_id": "file_abc"}]
        )
    unpriced = new_agent(client, model="claude-mythos-5")  # a budget needs a list price (tests/budgets)
    extras: list[dict[str, Any]] = [
        {"budget": {"type": "limit", "max_list_cost": {"amount": "100", "currency": "USD"}}},
    ]
    for extra in extras:
        with pytest.raises(anthropic.BadRequestError):
            client.beta.sessions.create(agent=unpriced.id, environment_id=env.id, **extra)
    archived_env = new_environment(client)
    client.beta.environments.archive(archived_env.id)
    with pytest.raises(BetaEnvironmentArchivedError):
        client.beta.sessions.create(agent=agent.id, environment_id=archived_env.id)
    client.beta.agents.archive(agent.id)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.create(agent=agent.id, environment_id=env.id)
    assert [s.id for s in client.beta.sessions.list(agent_id=agent.id, include_archived=True)] == []


def test_initial_events_start_the_session(client: anthropic.Anthropic) -> None:
    session = new_session(client, initial_events=[user_message("hi")])
    assert session.status == "running"
    events = list(client.beta.sessions.events.list(session.id))
    assert [event.type for event in events] == ["user.message", "session.status_running"]
    with pytest.raises(anthropic.ConflictError):  # the agent cannot change while it runs
        client.beta.sessions.update(session.id, agent={"tools": [CUSTOM_TOOL]})


def test_update_emits_session_updated_with_the_changes(client: anthropic.Anthropic) -> None:
    session = new_session(client, metadata={"a": "1", "b": "2"})
    raw = client.beta.sessions.with_raw_response.update(session.id, title="renamed", metadata={"a": None, "c": "3"})
    updated = validated(BetaManagedAgentsSession, raw)
    assert updated.title == "renamed" and updated.metadata == {"b": "2", "c": "3"}
    events = list(client.beta.sessions.events.list(session.id, types=["session.updated"]))
    assert len(events) == 1
    assert events[0].model_dump(exclude={"id", "processed_at"}, exclude_none=True) == {
        "type": "session.updated",
        "title": "renamed",
        "metadata": {"b": "2", "c": "3"},
    }
    tooled = client.beta.sessions.update(session.id, agent={"tools": [CUSTOM_TOOL]})
    assert [tool.type for tool in tooled.agent.tools] == ["custom"]
    assert client.beta.sessions.update(session.id, title="renamed").updated_at == tooled.updated_at
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.update(session.id, vault_ids=["vlt_x"])
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.update(
            session.id, budget={"type": "limit", "max_list_cost": {"amount": "1", "currency": "USD"}}
        )
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.update(session.id, metadata={"k" * 65: "v"})


def test_list_filters_orders_and_pages_both_ways(client: anthropic.Anthropic) -> None:
    agent, env = new_agent(client), new_environment(client)
    since = datetime.now(UTC) - timedelta(seconds=1)
    made = [client.beta.sessions.create(agent=agent.id, environment_id=env.id).id for _ in range(5)]
    newest_first = [s.id for s in client.beta.sessions.list(agent_id=agent.id, limit=2)]
    assert newest_first == list(reversed(made))
    oldest_first = [s.id for s in client.beta.sessions.list(agent_id=agent.id, order="asc", limit=2)]
    assert oldest_first == made
    first = client.beta.sessions.list(agent_id=agent.id, limit=2, order="asc")
    assert first.prev_page is None and first.next_page is not None
    second = client.beta.sessions.list(agent_id=agent.id, limit=2, order="asc", page=first.next_page)
    assert [s.id for s in second.data] == made[2:4] and second.prev_page is not None
    back = client.beta.sessions.list(agent_id=agent.id, limit=2, order="asc", page=second.prev_page)
    assert [s.id for s in back.data] == made[:2] and back.prev_page is None
    for session in second.data:
        BetaManagedAgentsSession.model_validate(session.model_dump())
    assert len(list(client.beta.sessions.list(agent_id=agent.id, agent_version=1, created_at_gte=since))) == 5
    assert list(client.beta.sessions.list(agent_id=agent.id, agent_version=2)) == []
    assert list(client.beta.sessions.list(agent_id=agent.id, statuses=["running", "terminated"])) == []
    assert len(list(client.beta.sessions.list(agent_id=agent.id, statuses=["idle"]))) == 5
    assert list(client.beta.sessions.list(agent_id=agent.id, created_at_lt=since)) == []
    assert list(client.beta.sessions.list(agent_id=agent.id, deployment_id="depl_x")) == []


def test_list_refuses_bad_cursors(client: anthropic.Anthropic) -> None:
    agent = new_agent(client)
    session = new_session(client, agent=agent.id)
    new_session(client, agent=agent.id)
    page = client.beta.sessions.list(agent_id=agent.id, limit=1)
    assert page.next_page is not None
    for token in ("page_garbage", "nonsense", page.next_page + "x"):
        with pytest.raises(anthropic.BadRequestError):
            client.beta.sessions.list(page=token)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.list(agent_id=agent.id, limit=1, order="asc", page=page.next_page)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.list(agent_version=1)
    assert client.beta.sessions.retrieve(session.id).id == session.id


def test_archive_terminates_and_hides(client: anthropic.Anthropic) -> None:
    agent = new_agent(client)
    session = new_session(client, agent=agent.id)
    archived = validated(BetaManagedAgentsSession, client.beta.sessions.with_raw_response.archive(session.id))
    assert archived.status == "terminated" and archived.archived_at is not None
    assert client.beta.sessions.archive(session.id).archived_at == archived.archived_at
    assert list(client.beta.sessions.list(agent_id=agent.id)) == []
    assert [s.id for s in client.beta.sessions.list(agent_id=agent.id, include_archived=True)] == [session.id]
    with pytest.raises(anthropic.ConflictError) as caught:
        client.beta.sessions.events.send(session.id, events=[user_message("too late")])
    assert caught.value.response.headers["x-should-retry"] == "false"
    with pytest.raises(anthropic.ConflictError):
        client.beta.sessions.update(session.id, title="too late")


def test_delete(client: anthropic.Anthropic) -> None:
    session = new_session(client, initial_events=[user_message("bye")])
    raw = client.beta.sessions.with_raw_response.delete(session.id)
    deleted = validated(BetaManagedAgentsDeletedSession, raw)
    assert (deleted.id, deleted.type) == (session.id, "session_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.retrieve(session.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.events.list(session.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.delete(session.id)


def test_unknown_sessions_are_404(client: anthropic.Anthropic) -> None:
    for session_id in ("sesn_doesnotexist00000000000000", "agent_wrongkind", unique("x")):
        with pytest.raises(anthropic.NotFoundError):
            client.beta.sessions.retrieve(session_id)
        with pytest.raises(anthropic.NotFoundError):
            client.beta.sessions.update(session_id, title="x")
        with pytest.raises(anthropic.NotFoundError):
            client.beta.sessions.archive(session_id)
        with pytest.raises(anthropic.NotFoundError):
            client.beta.sessions.delete(session_id)
        with pytest.raises(anthropic.NotFoundError):
            client.beta.sessions.events.send(session_id, events=[user_message("x")])
        with pytest.raises(anthropic.NotFoundError):
            client.beta.sessions.events.list(session_id)
        with pytest.raises(anthropic.NotFoundError):
            client.beta.sessions.events.stream(session_id)

"""Workspaces and authentication: another workspace's objects do not exist for you, on every route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import pytest

from tests.conformance.helpers import error_body, new_agent, new_environment, new_session, unique, user_message
from tests.live import LiveServer


@pytest.fixture
def theirs(client: anthropic.Anthropic) -> dict[str, Any]:
    """Objects of the default workspace (the admin key's), seen from ``other`` below."""
    agent, env = new_agent(client), new_environment(client)
    session = new_session(client, agent=agent.id, environment_id=env.id)
    client.beta.sessions.events.send(session.id, events=[user_message("private")])
    return {"agent": agent, "env": env, "session": session}


def test_other_workspace_gets_404_everywhere(
    client: anthropic.Anthropic, other: anthropic.Anthropic, theirs: dict[str, Any]
) -> None:
    agent_id, env_id, session_id = theirs["agent"].id, theirs["env"].id, theirs["session"].id
    calls: list[Callable[[], Any]] = [
        lambda: other.beta.agents.retrieve(agent_id),
        lambda: other.beta.agents.retrieve(agent_id, version=1),
        lambda: other.beta.agents.update(agent_id, name="stolen"),
        lambda: other.beta.agents.archive(agent_id),
        lambda: other.beta.agents.versions.list(agent_id),
        lambda: other.beta.environments.retrieve(env_id),
        lambda: other.beta.environments.update(env_id, name="stolen"),
        lambda: other.beta.environments.archive(env_id),
        lambda: other.beta.environments.delete(env_id),
        lambda: other.beta.sessions.retrieve(session_id),
        lambda: other.beta.sessions.update(session_id, title="stolen"),
        lambda: other.beta.sessions.archive(session_id),
        lambda: other.beta.sessions.delete(session_id),
        lambda: other.beta.sessions.events.send(session_id, events=[user_message("intrusion")]),
        lambda: other.beta.sessions.events.list(session_id),
        lambda: other.beta.sessions.events.stream(session_id),
        lambda: other.beta.sessions.create(agent=agent_id, environment_id=new_environment(other).id),
        lambda: other.beta.sessions.create(agent=new_agent(other).id, environment_id=env_id),
    ]
    for call in calls:
        with pytest.raises(anthropic.NotFoundError):
            call()
    assert agent_id not in {a.id for a in other.beta.agents.list(include_archived=True)}
    assert env_id not in {e.id for e in other.beta.environments.list(include_archived=True)}
    assert session_id not in {s.id for s in other.beta.sessions.list(include_archived=True)}
    assert list(other.beta.sessions.list(agent_id=agent_id)) == []
    # nothing of theirs changed
    assert client.beta.agents.retrieve(agent_id).version == 1
    assert client.beta.environments.retrieve(env_id).archived_at is None
    session = client.beta.sessions.retrieve(session_id)
    assert session.title is None and session.archived_at is None
    assert [e.type for e in client.beta.sessions.events.list(session_id)] == ["user.message"]


def test_each_workspace_lists_only_its_own(client: anthropic.Anthropic, other: anthropic.Anthropic) -> None:
    mine, yours = new_agent(other, name=unique("mine")), new_agent(client, name=unique("yours"))
    assert mine.id in {a.id for a in other.beta.agents.list()}
    assert yours.id not in {a.id for a in other.beta.agents.list()}
    assert mine.id not in {a.id for a in client.beta.agents.list()}
    same_name = unique("shared-name")
    new_environment(client, name=same_name)
    assert new_environment(other, name=same_name).name == same_name  # names are unique per workspace only


def test_authentication(server: LiveServer, other_key: str) -> None:
    with anthropic.Anthropic(base_url=server.base_url, api_key="sk-corral-wrong", max_retries=0) as wrong:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            wrong.beta.agents.list()
    assert error_body(caught.value)["error"]["type"] == "authentication_error"
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as http:
        assert http.get("/v1/agents").status_code == 401
        assert http.get("/v1/agents", headers={"authorization": "Basic abc"}).status_code == 401
        assert http.get("/v1/agents", headers={"x-api-key": other_key}).status_code == 200
        assert http.get("/v1/agents", headers={"authorization": f"Bearer {other_key}"}).status_code == 200
        assert http.get("/v1/nowhere").status_code == 401  # no route is revealed without a key
        assert http.get("/healthz").status_code == 200 and http.get("/openapi.json").status_code == 200


def test_a_key_cannot_name_another_workspace(other: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.PermissionDeniedError):
        other.beta.agents.list(workspace_id="wrkspc_default")

"""Agents that use skills, through the official SDK on both engines: what an agent's ``skills`` may be (custom
skills of the workspace, pinned or latest; Anthropic-provided ones are a 400 naming them; unknown skills and
versions are a 404; each skill once, at most 20), how agents echo them, and how a session pins them to concrete
versions at creation so later changes to the skill never alter it."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.skills.conftest import skill_files, unique_name

MODEL = "claude-sonnet-4-6"
TOOLS: Any = [{"type": "agent_toolset_20260401"}]


def new_skill(client: anthropic.Anthropic) -> tuple[str, str, str]:
    """``(skill id, name, version id)`` of a new skill."""
    name = unique_name()
    made = client.beta.skills.create(files=skill_files(name))
    return made.id, name, made.latest_version_id


def new_environment(client: anthropic.Anthropic) -> str:
    return client.beta.environments.create(name=unique_name("env"), config={"type": "cloud"}).id


def test_an_agent_echoes_its_custom_skills_pinned_or_latest(client: anthropic.Anthropic) -> None:
    first, _, first_version = new_skill(client)
    second, _, _ = new_skill(client)
    skills: Any = [
        {"type": "custom", "skill_id": first, "version": first_version},
        {"type": "custom", "skill_id": second},
    ]
    agent = client.beta.agents.create(name=unique_name("agent"), model=MODEL, tools=TOOLS, skills=skills)
    assert [skill.model_dump() for skill in agent.skills] == [
        {"type": "custom", "skill_id": first, "version": first_version},
        {"type": "custom", "skill_id": second, "version": "latest"},
    ]
    assert client.beta.agents.retrieve(agent.id).skills == agent.skills
    cleared = client.beta.agents.update(agent.id, version=agent.version, skills=[])
    assert cleared.skills == [] and cleared.version == agent.version + 1
    latest: Any = [{"type": "custom", "skill_id": first, "version": "latest"}]
    again = client.beta.agents.update(agent.id, version=cleared.version, skills=latest)
    assert [skill.model_dump() for skill in again.skills] == [
        {"type": "custom", "skill_id": first, "version": "latest"}
    ]


def _refused(call: Any) -> dict[str, Any]:
    with pytest.raises(anthropic.APIStatusError) as caught:
        call()
    body: Any = caught.value.body
    return {"status": caught.value.status_code, **body["error"]}


def test_anthropic_skills_are_a_400_naming_them(client: anthropic.Anthropic) -> None:
    skill_id, _, _ = new_skill(client)
    skills: Any = [{"type": "custom", "skill_id": skill_id}, {"type": "anthropic", "skill_id": "xlsx"}]
    error = _refused(lambda: client.beta.agents.create(name=unique_name("agent"), model=MODEL, skills=skills))
    assert error["status"] == 400 and error["type"] == "invalid_request_error"
    assert "Anthropic-provided skills ('xlsx') are not available on this server" in error["message"]
    agent = client.beta.agents.create(name=unique_name("agent"), model=MODEL)
    pdf: Any = [{"type": "anthropic", "skill_id": "pdf", "version": "latest"}]
    error = _refused(lambda: client.beta.agents.update(agent.id, version=agent.version, skills=pdf))
    assert error["status"] == 400 and "'pdf'" in error["message"]
    assert client.beta.agents.retrieve(agent.id).version == agent.version


def test_unknown_skills_and_versions_are_a_404(client: anthropic.Anthropic, other: anthropic.Anthropic) -> None:
    skill_id, _, _ = new_skill(client)
    theirs, _, _ = new_skill(other)
    cases: list[Any] = [
        [{"type": "custom", "skill_id": "skill_doesnotexist0000000000"}],
        [{"type": "custom", "skill_id": "nonsense"}],
        [{"type": "custom", "skill_id": theirs}],  # another workspace's skill
        [{"type": "custom", "skill_id": skill_id, "version": "skillver_doesnotexist00000000"}],
        [{"type": "custom", "skill_id": skill_id, "version": "1759178010641129"}],
    ]
    for skills in cases:
        error = _refused(lambda s=skills: client.beta.agents.create(name=unique_name("agent"), model=MODEL, skills=s))
        assert error["status"] == 404 and error["type"] == "not_found_error", (skills, error)


def test_a_skill_is_listed_once_and_at_most_twenty(client: anthropic.Anthropic) -> None:
    skill_id, _, _ = new_skill(client)
    twice: Any = [{"type": "custom", "skill_id": skill_id}] * 2
    error = _refused(lambda: client.beta.agents.create(name=unique_name("agent"), model=MODEL, skills=twice))
    assert error["status"] == 400 and "listed twice" in error["message"]
    many: Any = [{"type": "custom", "skill_id": f"skill_{index:026d}"} for index in range(21)]
    error = _refused(lambda: client.beta.agents.create(name=unique_name("agent"), model=MODEL, skills=many))
    assert error["status"] == 400 and error["type"] == "invalid_request_error"


def test_a_session_pins_its_skills_when_it_starts(client: anthropic.Anthropic) -> None:
    skill_id, name, first = new_skill(client)
    pinned_id, pinned_name, pinned_first = new_skill(client)
    skills: Any = [
        {"type": "custom", "skill_id": skill_id},
        {"type": "custom", "skill_id": pinned_id, "version": pinned_first},
    ]
    agent = client.beta.agents.create(name=unique_name("agent"), model=MODEL, tools=TOOLS, skills=skills)
    environment = new_environment(client)
    before = client.beta.sessions.create(agent=agent.id, environment_id=environment)
    second = client.beta.skills.versions.create(skill_id, files=skill_files(name, [(f"{name}/more.md", b"more")]))
    client.beta.skills.versions.create(pinned_id, files=skill_files(pinned_name, [(f"{pinned_name}/new.md", b"new")]))
    after = client.beta.sessions.create(agent=agent.id, environment_id=environment)
    assert [skill.model_dump() for skill in before.agent.skills] == [
        {"type": "custom", "skill_id": skill_id, "version": first},
        {"type": "custom", "skill_id": pinned_id, "version": pinned_first},
    ]
    assert [skill.model_dump() for skill in after.agent.skills] == [
        {"type": "custom", "skill_id": skill_id, "version": second.id},
        {"type": "custom", "skill_id": pinned_id, "version": pinned_first},
    ]
    client.beta.skills.delete(skill_id)
    assert client.beta.sessions.retrieve(before.id).agent.skills == before.agent.skills  # kept after a delete
    error = _refused(lambda: client.beta.sessions.create(agent=agent.id, environment_id=environment))
    assert error["status"] == 404 and skill_id in error["message"]


def test_session_overrides_replace_skills(client: anthropic.Anthropic) -> None:
    skill_id, _, version = new_skill(client)
    agent = client.beta.agents.create(name=unique_name("agent"), model=MODEL, tools=TOOLS)
    environment = new_environment(client)
    override: Any = {
        "type": "agent_with_overrides",
        "id": agent.id,
        "skills": [{"type": "custom", "skill_id": skill_id}],
    }
    session = client.beta.sessions.create(agent=override, environment_id=environment)
    assert [skill.model_dump() for skill in session.agent.skills] == [
        {"type": "custom", "skill_id": skill_id, "version": version}
    ]
    no_tools: Any = {**override, "tools": []}
    error = _refused(lambda: client.beta.sessions.create(agent=no_tools, environment_id=environment))
    assert error["status"] == 400 and "cannot be cleared while the agent has skills" in error["message"]
    anthropic_skill: Any = {**override, "skills": [{"type": "anthropic", "skill_id": "docx"}]}
    error = _refused(lambda: client.beta.sessions.create(agent=anthropic_skill, environment_id=environment))
    assert error["status"] == 400 and "'docx'" in error["message"]

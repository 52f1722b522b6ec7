"""``client.beta.agents`` and ``client.beta.agents.versions`` through the official SDK, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import pytest
from anthropic.types.beta import BetaInvalidMetadataError, BetaManagedAgentsAgent

from tests.conformance.helpers import new_agent, unique, validated

BUILTINS = ["bash", "read", "write", "edit", "glob", "grep", "web_fetch", "web_search"]

FULL_TOOLS: list[Any] = [
    {
        "type": "agent_toolset_20260401",
        "configs": [
            {"name": "bash", "permission_policy": {"type": "always_ask"}},
            {"name": "web_search", "enabled": False},
            {"name": "web_fetch", "allowed_domains": ["docs.example.com"], "url_sources": {"user_input": "none"}},
        ],
    },
    {"type": "mcp_toolset", "mcp_server_name": "github", "configs": [{"name": "create_issue", "enabled": False}]},
    {
        "type": "custom",
        "name": "get_weather",
        "description": "Get the weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
]
SERVERS: list[Any] = [{"type": "url", "name": "github", "url": "https://api.githubcopilot.com/mcp/"}]


def test_create_minimal_resolves_everything(client: anthropic.Anthropic) -> None:
    name = unique("minimal")
    agent = validated(
        BetaManagedAgentsAgent, client.beta.agents.with_raw_response.create(name=name, model="claude-m-1")
    )
    assert agent.id.startswith("agent_") and agent.version == 1 and agent.type == "agent"
    assert agent.name == name and agent.description is None and agent.system is None
    assert agent.model.id == "claude-m-1" and agent.model.effort is not None and agent.model.effort.type == "high"
    assert agent.model.speed == "standard" and agent.model.inference_geo is None
    assert agent.tools == [] and agent.mcp_servers == [] and agent.skills == [] and agent.multiagent is None
    assert agent.execution_identity.type == "service_account" and agent.metadata == {}
    assert agent.created_at == agent.updated_at and agent.archived_at is None


def test_create_resolves_toolsets_and_custom_tools(client: anthropic.Anthropic) -> None:
    raw = client.beta.agents.with_raw_response.create(
        name=unique("full"),
        model={"id": "claude-sonnet-4-6", "effort": "low", "speed": "fast", "inference_geo": "us"},
        system="be brief",
        description="a test agent",
        tools=FULL_TOOLS,
        mcp_servers=SERVERS,
        metadata={"team": "core"},
    )
    agent = validated(BetaManagedAgentsAgent, raw)
    assert agent.model.effort is not None and agent.model.effort.type == "low" and agent.model.speed == "fast"
    toolset, mcp, custom = agent.tools
    assert toolset.type == "agent_toolset_20260401"
    assert toolset.default_config.enabled and toolset.default_config.permission_policy.type == "always_allow"
    configs = {config.name: config for config in toolset.configs}
    assert [config.name for config in toolset.configs] == BUILTINS
    assert configs["bash"].permission_policy.type == "always_ask" and configs["read"].enabled
    assert not configs["web_search"].enabled
    web_fetch: Any = configs["web_fetch"]
    assert web_fetch.allowed_domains == ["docs.example.com"] and web_fetch.url_sources.user_input.type == "none"
    assert mcp.type == "mcp_toolset" and mcp.default_config.permission_policy.type == "always_ask"
    assert [(c.name, c.enabled, c.permission_policy.type) for c in mcp.configs] == [
        ("create_issue", False, "always_ask")
    ]
    assert custom.type == "custom" and custom.input_schema.required == ["city"]
    assert agent.mcp_servers[0].name == "github" and agent.metadata == {"team": "core"}


def test_retrieve_latest_and_a_version(client: anthropic.Anthropic) -> None:
    agent = new_agent(client, system="v1")
    client.beta.agents.update(agent.id, system="v2")
    latest = validated(BetaManagedAgentsAgent, client.beta.agents.with_raw_response.retrieve(agent.id))
    first = validated(BetaManagedAgentsAgent, client.beta.agents.with_raw_response.retrieve(agent.id, version=1))
    assert (latest.version, latest.system) == (2, "v2")
    assert (first.version, first.system) == (1, "v1")
    with pytest.raises(anthropic.NotFoundError):
        client.beta.agents.retrieve(agent.id, version=3)


def test_update_versions_and_semantics(client: anthropic.Anthropic) -> None:
    agent = new_agent(client, model={"id": "claude-m", "effort": "max"}, description="d", metadata={"a": "1", "b": "2"})
    raw = client.beta.agents.with_raw_response.update(
        agent.id, version=1, model={"id": "claude-m2"}, description="", metadata={"a": None, "c": "3"}
    )
    updated = validated(BetaManagedAgentsAgent, raw)
    assert updated.version == 2 and updated.model.id == "claude-m2"
    assert updated.model.effort is not None and updated.model.effort.type == "max"  # omitted effort is kept
    assert updated.description is None and updated.metadata == {"b": "2", "c": "3"}
    assert updated.created_at == agent.created_at and updated.updated_at >= agent.updated_at
    same = client.beta.agents.update(agent.id, description=None, metadata={"a": None})
    assert same.version == 2 and same.updated_at == updated.updated_at  # a no-op update makes no version


def test_update_with_a_stale_version_is_a_409_that_is_not_retried(client: anthropic.Anthropic) -> None:
    agent = new_agent(client)
    client.beta.agents.update(agent.id, name=unique("renamed"))
    with pytest.raises(anthropic.ConflictError) as caught:
        client.beta.agents.update(agent.id, version=1, system="lost update")
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")
    assert client.beta.agents.retrieve(agent.id).version == 2


def test_archive_is_one_way_and_read_only(client: anthropic.Anthropic) -> None:
    agent = new_agent(client)
    archived = validated(BetaManagedAgentsAgent, client.beta.agents.with_raw_response.archive(agent.id))
    assert archived.archived_at is not None
    assert client.beta.agents.archive(agent.id).archived_at == archived.archived_at
    with pytest.raises(anthropic.BadRequestError):
        client.beta.agents.update(agent.id, name="nope")
    listed = [a.id for a in client.beta.agents.list(limit=100)]
    assert agent.id not in listed
    assert agent.id in [a.id for a in client.beta.agents.list(include_archived=True, limit=100)]


def test_list_pages_to_the_end_newest_first(client: anthropic.Anthropic) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    made = [new_agent(client, name=unique("page")).id for _ in range(5)]
    seen = [agent.id for agent in client.beta.agents.list(limit=2, created_at_gte=before)]
    assert [agent_id for agent_id in seen if agent_id in made] == list(reversed(made))
    page = client.beta.agents.list(limit=2, created_at_gte=before)
    assert len(page.data) == 2 and page.next_page is not None and page.next_page.startswith("page_")
    for agent in page.data:
        BetaManagedAgentsAgent.model_validate(agent.model_dump())
    assert client.beta.agents.list(created_at_lte=before - timedelta(days=365)).data == []


def test_versions_list_newest_first(client: anthropic.Anthropic) -> None:
    agent = new_agent(client)
    for text in ("two", "three"):
        client.beta.agents.update(agent.id, system=text)
    versions = list(client.beta.agents.versions.list(agent.id, limit=1))
    assert [(v.version, v.system) for v in versions] == [(3, "three"), (2, "two"), (1, None)]
    raw = client.beta.agents.versions.with_raw_response.list(agent.id, limit=2)
    body = raw.parse()
    assert body.next_page is not None and len(body.data) == 2
    for version in body.data:
        BetaManagedAgentsAgent.model_validate(version.model_dump())


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"name": "x" * 257}, None),
        ({"name": ""}, None),
        ({"system": "s" * 100_001}, None),
        ({"description": "d" * 2049}, None),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "invalid_metadata"),
        ({"tools": [{"type": "web_browser"}]}, None),
        (
            {"tools": [{"type": "custom", "name": "bad name", "description": "", "input_schema": {"type": "object"}}]},
            None,
        ),
        ({"tools": [{"type": "custom", "name": "t", "description": "", "input_schema": {"type": "object"}}] * 2}, None),
        ({"tools": [{"type": "agent_toolset_20260401", "configs": [{"name": "teleport"}]}]}, None),
        ({"mcp_servers": SERVERS}, None),
        ({"tools": [{"type": "mcp_toolset", "mcp_server_name": "nowhere"}]}, None),
        (
            {
                "tools": [
                    {"type": "custom", "name": f"t{i}", "description": "", "input_schema": {"type": "object"}}
                    for i in range(129)
                ]
            },
            None,
        ),
        ({"skills": [{"type": "anthropic", "skill_id": "xlsx"}]}, None),
        ({"model": {"id": "claude-m", "effort": "enormous"}}, None),
    ],
)
def test_invalid_agents_are_refused(client: anthropic.Anthropic, fields: dict[str, Any], code: str | None) -> None:
    fields = dict(fields)  # the parameters are shared by both engines' runs
    name = fields.pop("name", unique("invalid"))
    before = {agent.id for agent in client.beta.agents.list(include_archived=True, limit=100)}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.beta.agents.create(name=name, model=fields.pop("model", "claude-m"), **fields)
    body: Any = caught.value.body
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    if code is not None:
        assert body["error"]["details"]["error_code"] == code
    if code == "invalid_metadata":
        assert isinstance(caught.value, BetaInvalidMetadataError)
    assert {agent.id for agent in client.beta.agents.list(include_archived=True, limit=100)} == before


def test_unknown_agents_are_404(client: anthropic.Anthropic) -> None:
    for agent_id in ("agent_doesnotexist000000000000", "env_wrongprefix", "nonsense"):
        with pytest.raises(anthropic.NotFoundError):
            client.beta.agents.retrieve(agent_id)
        with pytest.raises(anthropic.NotFoundError):
            client.beta.agents.update(agent_id, name="x")
        with pytest.raises(anthropic.NotFoundError):
            client.beta.agents.archive(agent_id)
        with pytest.raises(anthropic.NotFoundError):
            client.beta.agents.versions.list(agent_id)

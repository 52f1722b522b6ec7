"""What corral cannot run yet is refused with a clear 400, never accepted and ignored (issue 10, defect 4)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.conformance.helpers import new_agent, new_environment, unique

MCP: dict[str, Any] = {
    "mcp_servers": [{"type": "url", "name": "gh", "url": "https://mcp.example.com/mcp"}],
    "tools": [{"type": "mcp_toolset", "mcp_server_name": "gh"}],
}


def test_a_session_keeps_the_mcp_tools_its_agent_declares(client: anthropic.Anthropic) -> None:
    """Sessions of agents with MCP servers run with their tools (tests/mcp runs them): nothing is dropped on the way."""
    agent = new_agent(client, **MCP)
    environment = new_environment(client)
    session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
    assert [(server.name, server.url) for server in session.agent.mcp_servers] == [
        ("gh", "https://mcp.example.com/mcp")
    ]
    toolset = session.agent.tools[0]
    assert toolset.type == "mcp_toolset" and toolset.mcp_server_name == "gh"
    assert toolset.default_config.permission_policy.type == "always_ask"  # MCP tools never run unapproved
    plain = client.beta.sessions.create(agent=new_agent(client).id, environment_id=environment.id)
    changes: Any = MCP
    updated = client.beta.sessions.update(plain.id, agent=changes)
    assert [server.name for server in updated.agent.mcp_servers] == ["gh"]


def test_web_search_without_a_backend_is_off_and_asking_for_it_is_refused(client: anthropic.Anthropic) -> None:
    agent = new_agent(client, tools=[{"type": "agent_toolset_20260401"}])
    toolset = agent.tools[0]
    assert toolset.type == "agent_toolset_20260401"
    enabled = {config.name: config.enabled for config in toolset.configs}
    assert enabled["web_search"] is False and enabled["web_fetch"] is True and enabled["bash"] is True
    asked = [{"type": "agent_toolset_20260401", "configs": [{"name": "web_search", "enabled": True}]}]
    with pytest.raises(anthropic.BadRequestError, match="web_search needs a search backend"):
        client.beta.agents.create(name=unique("searcher"), model="claude-sonnet-4-6", tools=asked)  # type: ignore[arg-type]


def test_a_setting_a_tool_does_not_read_is_refused(client: anthropic.Anthropic) -> None:
    tools: Any = [{"type": "agent_toolset_20260401", "configs": [{"name": "bash", "allowed_domains": ["a.com"]}]}]
    with pytest.raises(anthropic.BadRequestError, match="tool 'bash' has no setting allowed_domains"):
        client.beta.agents.create(name=unique("careless"), model="claude-sonnet-4-6", tools=tools)

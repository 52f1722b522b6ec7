"""``web_search`` end to end through the official SDK: a live ``corral serve`` with a search backend (a loopback
server speaking SearXNG's JSON API), an agent whose toolset enables it, a scripted model that searches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from corral.testing import ScriptedModelServer, ScriptedSearchServer, reply, text, tool_use
from tests.live import LiveServer, live_server

HITS = {"corral": [{"url": "https://docs.example.com/corral", "title": "corral", "content": "A runtime for agents."}]}
SCRIPT = {"replies": [reply(tool_use("web_search", {"query": "corral runtime"})), reply(text("Found it."))]}


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, ScriptedModelServer, ScriptedSearchServer]]:
    tmp = tmp_path_factory.mktemp("web-search")
    with ScriptedModelServer(SCRIPT) as model, ScriptedSearchServer(HITS) as search:
        env = {"ANTHROPIC_BASE_URL": model.url, "CORRAL_WEB_SEARCH_URL": search.url}
        with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as running:
            yield running, model, search


def test_an_agent_searches_the_web(servers: tuple[LiveServer, ScriptedModelServer, ScriptedSearchServer]) -> None:
    live, model, search = servers
    with anthropic.Anthropic(base_url=live.base_url, api_key=live.api_key, max_retries=0) as client:
        agent = client.beta.agents.create(
            name="searcher",
            model="claude-sonnet-4-6",
            tools=[
                {
                    "type": "agent_toolset_20260401",
                    "default_config": {"enabled": False},
                    "configs": [{"name": "web_search", "enabled": True}],
                }
            ],
        )
        toolset = agent.tools[0]
        assert toolset.type == "agent_toolset_20260401"
        assert [c.name for c in toolset.configs if c.enabled] == ["web_search"]
        environment = client.beta.environments.create(name="searching")
        session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
        seen: list[Any] = []
        with client.beta.sessions.events.stream(session.id) as stream:
            client.beta.sessions.events.send(
                session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": "Search corral"}]}]
            )
            for event in stream:
                seen.append(event)
                if event.type == "session.status_idle":
                    break
        usage = client.beta.sessions.retrieve(session.id).usage
    assert usage.server_tool_use is not None and usage.server_tool_use.web_search_requests == 1
    result = next(e for e in seen if e.type == "agent.tool_result")
    assert not result.is_error and result.content is not None
    block = result.content[0]
    assert block.type == "search_result" and block.source == "https://docs.example.com/corral"
    assert search.requests == [{"q": "corral runtime", "format": "json", "language": "all"}]
    offered = [tool["name"] for tool in model.requests[0].body["tools"]]
    assert offered == ["web_search"]
    assert "A runtime for agents." in str(model.requests[-1].body["messages"])

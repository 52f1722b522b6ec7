"""``web_search`` against a loopback server speaking SearXNG's JSON API (``corral.testing.ScriptedSearchServer``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from corral._types import JSONObject
from corral.egress.web_search import SearXNG, WebSearchTool, region_of
from corral.sandbox import ToolResult
from corral.testing import ScriptedSearchServer

pytestmark = pytest.mark.anyio

RESULTS = {
    "corral": [
        {"url": "https://docs.example.com/corral", "title": "corral docs", "content": "A runtime for agents."},
        {"url": "https://blog.other.org/corral", "title": "A post", "content": "We tried corral."},
        {"url": "ftp://files.example.com/x", "title": "not http", "content": "dropped"},
    ]
}


@dataclass
class Call:
    input: JSONObject
    config: JSONObject = field(default_factory=lambda: dict[str, Any]())


@pytest.fixture
async def search() -> AsyncIterator[tuple[ScriptedSearchServer, WebSearchTool]]:
    async with ScriptedSearchServer(RESULTS) as server:
        tool = WebSearchTool(SearXNG(server.url))
        try:
            yield server, tool
        finally:
            await tool.aclose()


def sources(result: ToolResult) -> list[str]:
    return [block["source"] for block in result.content]


async def test_results_become_search_result_blocks(search: tuple[ScriptedSearchServer, WebSearchTool]) -> None:
    server, tool = search
    result = await tool.execute(Call({"query": "what is corral"}))
    assert not result.is_error and sources(result) == [
        "https://docs.example.com/corral",
        "https://blog.other.org/corral",
    ]
    assert result.content[0] == {
        "type": "search_result",
        "source": "https://docs.example.com/corral",
        "title": "corral docs",
        "content": [{"type": "text", "text": "A runtime for agents."}],
        "citations": {"enabled": False},
    }
    assert server.requests == [{"q": "what is corral", "format": "json", "language": "all"}]


async def test_domains_filter_the_results_and_scope_the_query(
    search: tuple[ScriptedSearchServer, WebSearchTool],
) -> None:
    server, tool = search
    allowed = await tool.execute(Call({"query": "corral"}, {"allowed_domains": ["example.com"]}))
    assert sources(allowed) == ["https://docs.example.com/corral"]
    assert server.requests[-1]["q"] == "corral site:example.com"
    blocked = await tool.execute(Call({"query": "corral"}, {"blocked_domains": ["docs.example.com"]}))
    assert sources(blocked) == ["https://blog.other.org/corral"]


async def test_the_country_selects_the_search_region(search: tuple[ScriptedSearchServer, WebSearchTool]) -> None:
    server, tool = search
    await tool.execute(Call({"query": "corral"}, {"user_location": {"type": "approximate", "country": "FR"}}))
    assert server.requests[-1]["language"] == "fr-FR"
    assert region_of("DE") == "de-DE" and region_of(None) is None


async def test_no_results_and_failures_are_results(search: tuple[ScriptedSearchServer, WebSearchTool]) -> None:
    server, tool = search
    assert (await tool.execute(Call({"query": "nothing here"}))).content == [
        {"type": "text", "text": "no results for 'nothing here'"}
    ]
    server.fail_with = 500
    failed = await tool.execute(Call({"query": "corral"}))
    assert failed == ToolResult.error("web_search: the search backend answered HTTP 500")
    server.stop()
    unreachable = await tool.execute(Call({"query": "corral"}))
    assert unreachable.is_error and "unreachable" in str(unreachable.content[0]["text"])

"""``McpTools`` inside ``async with``: one kept connection per (session, server, token) serves the turn's listing and
calls, closes when idle and on shutdown, and a connection whose server went away is dropped, its call failed once
and never made again. Against real MCP servers on loopback (``ScriptedMcpServer``)."""

from __future__ import annotations

import anyio
import pytest

from corral.db import Database
from corral.egress.mcp import McpTools, StaticBearers
from corral.errors import McpConnectionFailed
from corral.harness import SessionScope
from corral.testing.mcp import ScriptedMcpServer
from tests.mcp.test_client import LOOPBACK, TOKEN, call, ref, scope, server

pytestmark = pytest.mark.anyio
__all__ = ["scope", "server"]  # fixtures


def kept(database: Database, url: str, idle: float = 120.0) -> McpTools:
    return McpTools(database, LOOPBACK, StaticBearers({url: TOKEN}), timeout=30, idle=idle)


async def test_one_connection_serves_the_turns_listing_and_calls(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    async with kept(database, server.url) as tools:
        await tools.list_tools(scope, ref(server))
        for text in ("a", "b", "c"):
            result = await tools.call_tool(scope, ref(server), call(scope, "echo", {"text": text}))
            assert result.content == [{"type": "text", "text": f"echo: {text}"}]
        assert len(tools.connections.opened()) == 1
        (connection,) = tools.connections.opened()
    assert server.listings == 1  # the SDK listed nothing more before each call
    assert connection.closed.is_set()  # closed on shutdown


async def test_an_idle_connection_is_closed(database: Database, server: ScriptedMcpServer, scope: SessionScope) -> None:
    async with kept(database, server.url, idle=0.05) as tools:
        await tools.call_tool(scope, ref(server), call(scope, "echo", {"text": "x"}))
        opened = tools.connections.opened()
        with anyio.fail_after(30):
            for connection in opened:
                await connection.closed.wait()
        assert tools.connections.opened() == []
        again = await tools.call_tool(scope, ref(server), call(scope, "echo", {"text": "y"}))
        assert again.content == [{"type": "text", "text": "echo: y"}]


async def test_a_connection_whose_server_went_away_fails_the_call_once_and_is_dropped(
    database: Database, scope: SessionScope
) -> None:
    async with ScriptedMcpServer(token=TOKEN) as gone, kept(database, gone.url) as tools:
        await tools.call_tool(scope, ref(gone), call(scope, "echo", {"text": "x"}))
        assert len(tools.connections.opened()) == 1
        gone.stop()
        request = call(scope, "create_issue", {"title": "t"})
        with pytest.raises(McpConnectionFailed) as failed:
            await tools.call_tool(scope, ref(gone), request)
        assert "cannot be reached" in failed.value.message
        assert tools.connections.opened() == []
        with pytest.raises(McpConnectionFailed):  # recorded: asked again, the same answer, nothing made
            await tools.call_tool(scope, ref(gone), request)
    assert [made.name for made in gone.calls] == ["echo"]

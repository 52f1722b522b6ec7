"""``McpTools`` against a real MCP server (``ScriptedMcpServer``, streamable HTTP on loopback) and a real database, on
both engines: listing and calling with the session's token, what a failure of the server is, the exactly-once
journal, and that no token ever comes back or is written down."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence

import pytest

from corral.db import Database, Flow, Row, all_rows
from corral.egress.addresses import AddressGuard, PrivateAllowance
from corral.egress.mcp import McpTools, StaticBearers
from corral.egress.mcp.journal import claim
from corral.errors import McpAuthenticationFailed, McpConnectionFailed
from corral.harness import McpServer, SessionScope, ToolCall
from corral.session import NewSession, SessionStore
from corral.testing.mcp import PIXEL, ScriptedMcpServer
from tests.live import free_port

pytestmark = pytest.mark.anyio

TOKEN = "mcp-token-" + secrets.token_hex(12)
WORKSPACE = "wrkspc_mcp"


@pytest.fixture
async def server() -> AsyncIterator[ScriptedMcpServer]:
    async with ScriptedMcpServer(token=TOKEN) as running:
        yield running


@pytest.fixture
async def scope(database: Database) -> AsyncIterator[SessionScope]:
    store = SessionStore(database)
    try:
        record, _ = await store.create_session(NewSession(WORKSPACE, "agent_mcp", 1, "env_mcp", {}, []))
        yield SessionScope(record.id, WORKSPACE, ("vlt_one",))
    finally:
        await store.aclose()


LOOPBACK = AddressGuard(allowance=PrivateAllowance.parse(["127.0.0.1"]))  # what CORRAL_EGRESS_ALLOW_PRIVATE gives


def tools(database: Database, server: ScriptedMcpServer, token: str | None = TOKEN) -> McpTools:
    return McpTools(database, LOOPBACK, StaticBearers({server.url: token} if token else {}), timeout=30)


def ref(server: ScriptedMcpServer, name: str = "tracker") -> McpServer:
    return McpServer(name, server.url)


def call(scope: SessionScope, name: str, arguments: dict[str, object] | None = None) -> ToolCall:
    return ToolCall(scope.session_id, "sevt_" + secrets.token_hex(6), name, dict(arguments or {}), {})


def _rows(session_id: str) -> Flow[list[str]]:
    """Every journal row of the session, as the text of all its columns."""
    rows: list[Row] = yield all_rows("SELECT * FROM mcp_calls WHERE session_id = $1", session_id)
    return [" ".join(str(row[column]) for column in range(len(row))) for row in rows]


async def test_the_tools_are_listed_with_the_sessions_token(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    listed = await tools(database, server).list_tools(scope, ref(server))
    names = [tool.name for tool in listed]
    assert names[:3] == ["echo", "add", "create_issue"] and "hold" in names
    echo = listed[0]
    assert echo.description == "Echo the text back."
    assert echo.input_schema["properties"] == {"text": {"type": "string"}}
    assert server.listings == 1 and server.refused == 0


async def test_a_call_returns_what_the_tool_answered(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    client = tools(database, server)
    echoed = await client.call_tool(scope, ref(server), call(scope, "echo", {"text": "hello"}))
    assert echoed.content == [{"type": "text", "text": "echo: hello"}] and not echoed.is_error
    picture = await client.call_tool(scope, ref(server), call(scope, "picture"))
    assert picture.content == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}}
    ]
    failed = await client.call_tool(scope, ref(server), call(scope, "fail"))
    assert failed.is_error and failed.content == [{"type": "text", "text": "it failed, as it always does"}]
    unknown = await client.call_tool(scope, ref(server), call(scope, "no_such_tool"))
    assert unknown.is_error and unknown.content == [
        {"type": "text", "text": "no_such_tool: unknown tool 'no_such_tool'"}
    ]


async def test_without_a_credential_the_server_refuses_and_no_tool_runs(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    client = tools(database, server, token=None)
    with pytest.raises(McpAuthenticationFailed) as listing:
        await client.list_tools(scope, ref(server))
    assert listing.value.server_name == "tracker"
    assert "no vault of this session holds one" in listing.value.message
    with pytest.raises(McpAuthenticationFailed):
        await client.call_tool(scope, ref(server), call(scope, "create_issue", {"title": "t"}))
    assert server.calls == [] and server.refused >= 2


async def test_a_refused_token_is_named_but_never_shown(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    wrong = "wrong-token-" + secrets.token_hex(12)
    with pytest.raises(McpAuthenticationFailed) as refused:
        await tools(database, server, token=wrong).call_tool(scope, ref(server), call(scope, "echo", {"text": "x"}))
    assert "refused the credential" in refused.value.message and "HTTP 401" in refused.value.message
    assert wrong not in refused.value.message
    rows = await database.read(_rows, scope.session_id)
    assert len(rows) == 1 and wrong not in rows[0]
    assert server.calls == []


class Refreshing:
    """Credentials whose first token has expired: a 401 gets the fresh one (what an OAuth refresh does)."""

    def __init__(self, stale: str, fresh: str):
        self.stale, self.fresh = stale, fresh
        self.refreshes = 0

    async def bearer_for(self, workspace_id: str, vault_ids: Sequence[str], server_url: str) -> str | None:
        assert (workspace_id, list(vault_ids)) == (WORKSPACE, ["vlt_one"])
        return self.stale

    async def refused(self, workspace_id: str, vault_ids: Sequence[str], server_url: str, token: str) -> str | None:
        assert token == self.stale
        self.refreshes += 1
        return self.fresh


async def test_a_refused_token_is_refreshed_once(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    credentials = Refreshing("stale-token-" + secrets.token_hex(8), TOKEN)
    client = McpTools(database, LOOPBACK, credentials, timeout=30)
    result = await client.call_tool(scope, ref(server), call(scope, "add", {"a": 2, "b": 3}))
    assert result.content == [{"type": "text", "text": "5"}]
    assert credentials.refreshes == 1 and server.calls[0].name == "add"


async def test_an_unreachable_server_is_a_connection_failure(database: Database, scope: SessionScope) -> None:
    gone = McpServer("offline", f"http://127.0.0.1:{free_port()}/mcp")
    client = McpTools(database, LOOPBACK, StaticBearers({gone.url: TOKEN}), timeout=30)
    with pytest.raises(McpConnectionFailed) as failed:
        await client.list_tools(scope, gone)
    assert failed.value.server_name == "offline" and "cannot be reached" in failed.value.message
    with pytest.raises(McpConnectionFailed):
        await client.call_tool(scope, gone, call(scope, "echo", {"text": "x"}))


async def test_a_server_that_echoes_the_token_gets_it_redacted_everywhere(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    result = await tools(database, server).call_tool(scope, ref(server), call(scope, "echo_headers"))
    text = result.content[0]["text"]
    assert '"authorization": "Bearer [redacted]"' in text and TOKEN not in text
    rows = await database.read(_rows, scope.session_id)
    assert rows and all(TOKEN not in row for row in rows)


async def test_a_call_asked_for_twice_is_made_once(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    request = call(scope, "create_issue", {"title": "once"})
    first = await tools(database, server).call_tool(scope, ref(server), request)
    again = await tools(database, server).call_tool(scope, ref(server), request)  # another worker, same journal
    assert first == again and first.content == [{"type": "text", "text": "#1"}]
    assert [made.name for made in server.calls] == ["create_issue"]


async def test_a_call_that_started_and_never_finished_is_not_made_again(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    request = call(scope, "create_issue", {"title": "lost"})
    # what a worker killed mid-call leaves behind: the start, no end
    assert await database.write(claim, scope.session_id, request.tool_use_id, "tracker", "create_issue", "t") is None
    result = await tools(database, server).call_tool(scope, ref(server), request)
    assert result.is_error and "interrupted" in result.content[0]["text"]
    assert server.calls == []
    again = await tools(database, server).call_tool(scope, ref(server), request)
    assert again == result


async def test_a_recorded_failure_is_reported_again_without_calling(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    request = call(scope, "echo", {"text": "x"})
    with pytest.raises(McpAuthenticationFailed) as first:
        await tools(database, server, token=None).call_tool(scope, ref(server), request)
    refused = server.refused
    with pytest.raises(McpAuthenticationFailed) as again:
        await tools(database, server).call_tool(scope, ref(server), request)  # even with a token now: same answer
    assert again.value.message == first.value.message and server.refused == refused and server.calls == []


async def test_the_journal_goes_with_its_session(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    await tools(database, server).call_tool(scope, ref(server), call(scope, "echo", {"text": "x"}))
    assert len(await database.read(_rows, scope.session_id)) == 1
    store = SessionStore(database)
    try:
        await store.delete_session(scope.session_id, WORKSPACE)
    finally:
        await store.aclose()
    assert await database.read(_rows, scope.session_id) == []


async def test_the_address_rule_keeps_mcp_servers_off_this_host(
    database: Database, server: ScriptedMcpServer, scope: SessionScope
) -> None:
    """An agent cannot point an MCP server at this host (or a private network) unless the operator allows it."""
    guarded = McpTools(database, AddressGuard(), StaticBearers({server.url: TOKEN}), timeout=30)
    with pytest.raises(McpConnectionFailed) as refused:
        await guarded.list_tools(scope, ref(server))
    assert "127.0.0.1" in refused.value.message and "cannot be reached" in refused.value.message
    with pytest.raises(McpConnectionFailed):
        await guarded.call_tool(scope, ref(server), call(scope, "echo", {"text": "x"}))
    assert server.listings == 0 and server.calls == [] and server.refused == 0  # nothing reached it

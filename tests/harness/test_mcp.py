"""MCP toolsets in the harness, with real parts: a ``Runtime`` whose MCP client (``corral.egress.mcp``) talks to
``ScriptedMcpServer`` doubles over streamable HTTP, a scripted model server, the real store (both engines).

What must hold: the tools each server lists are offered to the model as ``mcp__<server>__<tool>``, filtered by the
toolset and listed once per turn; a call is an ``agent.mcp_tool_use`` with the toolset's verdict, answered by an
``agent.mcp_tool_result`` from the server it names; ``always_ask`` waits for ``user.tool_confirmation``; a server
that refuses the credential or cannot be reached is a ``session.error`` naming it, and the turn goes on.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from corral._types import JSONObject
from corral.catalog.limits import CatalogLimits
from corral.catalog.params.tools import MCP_SERVERS, TOOLS
from corral.catalog.tools import resolve_mcp_servers, resolve_tools
from corral.config import Settings
from corral.egress.addresses import AddressGuard, PrivateAllowance
from corral.egress.mcp import McpTools, StaticBearers
from corral.harness import Runtime, ToolSource
from corral.harness.policy import Judge, JudgeContext, JudgedCall, Verdict
from corral.session import Event, NewEvent, SessionStore
from corral.testing import ScriptedMcpServer, ScriptedModelServer, reply, text, tool_use
from tests.harness.helpers import (
    create_session,
    eventually,
    send,
    settings_for,
    types,
    user_message,
    wait_blocked,
    wait_idle,
)
from tests.live import free_port

pytestmark = pytest.mark.anyio

TOKEN = "mcp-token-" + secrets.token_hex(12)
LOOPBACK = AddressGuard(allowance=PrivateAllowance.parse(["127.0.0.1"]))  # the doubles are on loopback


def mcp_agent(servers: dict[str, str], *toolsets: JSONObject, tools: Sequence[JSONObject] = ()) -> JSONObject:
    """An agent snapshot with MCP servers, resolved as the catalog resolves it at the API edge."""
    declared = resolve_mcp_servers(
        MCP_SERVERS.validate_python([{"type": "url", "name": n, "url": u} for n, u in servers.items()])
    )
    entries = [*tools, *toolsets]
    return {
        "type": "agent",
        "id": "agent_test",
        "version": 1,
        "model": {"id": "claude-test"},
        "system": "Be brief.",
        "mcp_servers": declared,
        "tools": resolve_tools(TOOLS.validate_python(entries), declared, CatalogLimits()),
    }


def toolset(server: str, policy: str | None = None, **extra: Any) -> JSONObject:
    entry: JSONObject = {"type": "mcp_toolset", "mcp_server_name": server, **extra}
    if policy is not None:
        entry["default_config"] = {"permission_policy": {"type": policy}}
    return entry


def offered(request_body: JSONObject) -> list[str]:
    tools: list[JSONObject] = request_body.get("tools") or []
    return [tool["name"] for tool in tools]


def of_type(events: list[Event], kind: str) -> list[Event]:
    return [event for event in events if event.type == kind]


@asynccontextmanager
async def running(
    store: SessionStore, settings: Settings, *, mcp: ToolSource, judge: Judge | None = None
) -> AsyncGenerator[Runtime]:
    """A ``Runtime`` on ``store`` whose MCP toolsets go through ``mcp``."""
    runtime = Runtime(store, settings, mcp=mcp, judge=judge, poll_interval=0.2)
    async with runtime.running():
        yield runtime


def client(store: SessionStore, *servers: ScriptedMcpServer, token: str = TOKEN) -> McpTools:
    """The MCP client a composition root builds, on the store's database, with a token for each server."""
    return McpTools(store.db, LOOPBACK, StaticBearers({server.url: token for server in servers}), timeout=30)


async def test_listed_tools_are_offered_and_an_allowed_call_reaches_the_model(store: SessionStore) -> None:
    script = {"replies": [reply(tool_use("mcp__tracker__echo", {"text": "hi"})), reply(text("It said hi."))]}
    async with ScriptedMcpServer(TOKEN) as mcp, ScriptedModelServer(script) as model:
        async with running(store, settings_for(model.url), mcp=client(store, mcp)):
            session_id = await create_session(
                store, mcp_agent({"tracker": mcp.url}, toolset("tracker", "always_allow"))
            )
            await send(store, session_id, user_message("Echo hi"))
            events = await wait_idle(store, session_id)
    assert offered(model.requests[0].body) == [
        "mcp__tracker__echo",
        "mcp__tracker__add",
        "mcp__tracker__create_issue",
        "mcp__tracker__echo_headers",
        "mcp__tracker__fail",
        "mcp__tracker__picture",
        "mcp__tracker__hold",
    ]
    assert model.requests[0].body["tools"][0]["input_schema"]["properties"] == {"text": {"type": "string"}}
    use, result = of_type(events, "agent.mcp_tool_use")[0], of_type(events, "agent.mcp_tool_result")[0]
    assert use.data() == {
        "mcp_server_name": "tracker",
        "name": "echo",
        "input": {"text": "hi"},
        "evaluated_permission": "allow",
        "evaluation": {"type": "always_allow"},
    }
    assert result.data() == {
        "mcp_tool_use_id": use.id,
        "content": [{"type": "text", "text": "echo: hi"}],
        "is_error": False,
    }
    history = model.requests[1].body["messages"]
    assert history[1]["content"][0] == {
        "type": "tool_use",
        "id": use.id,
        "name": "mcp__tracker__echo",
        "input": {"text": "hi"},
    }
    assert history[2]["content"][0]["tool_use_id"] == use.id and "echo: hi" in str(history[2])
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}
    # once for the turn (not once per model request), once by the SDK to check the call's result against its schema
    assert mcp.listings == 2


async def test_the_toolset_decides_what_is_offered_and_what_runs(store: SessionStore) -> None:
    only_echo = toolset(
        "tracker",
        default_config={"enabled": False},
        configs=[{"name": "echo", "enabled": True, "permission_policy": {"type": "always_allow"}}],
    )
    script = {"replies": [reply(tool_use("mcp__tracker__create_issue", {"title": "x"})), reply(text("Not allowed."))]}
    async with ScriptedMcpServer(TOKEN) as mcp, ScriptedModelServer(script) as model:
        async with running(store, settings_for(model.url), mcp=client(store, mcp)):
            session_id = await create_session(store, mcp_agent({"tracker": mcp.url}, only_echo))
            await send(store, session_id, user_message("File an issue"))
            events = await wait_idle(store, session_id)
    assert offered(model.requests[0].body) == ["mcp__tracker__echo"]
    use, result = of_type(events, "agent.mcp_tool_use")[0], of_type(events, "agent.mcp_tool_result")[0]
    assert use.data() == {
        "mcp_server_name": "tracker",
        "name": "create_issue",
        "input": {"title": "x"},
        "evaluated_permission": "deny",
    }
    assert result.data()["is_error"] is True and "not enabled" in result.data()["content"][0]["text"]
    assert mcp.calls == []


async def test_mcp_tools_ask_by_default_and_run_once_confirmed(store: SessionStore) -> None:
    first = reply(
        tool_use("mcp__tracker__create_issue", {"title": "a"}), tool_use("mcp__tracker__add", {"a": 1, "b": 2})
    )
    script = {"replies": [first, reply(text("Filed #1; 1 + 2 is not asked."))]}
    async with ScriptedMcpServer(TOKEN) as mcp, ScriptedModelServer(script) as model:
        async with running(store, settings_for(model.url), mcp=client(store, mcp)):
            session_id = await create_session(store, mcp_agent({"tracker": mcp.url}, toolset("tracker")))
            await send(store, session_id, user_message("File an issue and add"))
            blocked = await wait_blocked(store, session_id)
            uses = of_type(blocked, "agent.mcp_tool_use")
            assert [use.data()["evaluation"] for use in uses] == [{"type": "always_ask"}] * 2
            assert blocked[-1].data()["stop_reason"] == {"type": "requires_action", "event_ids": [u.id for u in uses]}
            assert mcp.calls == []
            allow = {"tool_use_id": uses[0].id, "result": "allow"}
            deny = {"tool_use_id": uses[1].id, "result": "deny", "deny_message": "no arithmetic today"}
            await send(
                store, session_id, NewEvent("user.tool_confirmation", allow), NewEvent("user.tool_confirmation", deny)
            )
            events = await wait_idle(store, session_id)
    results = {event.data()["mcp_tool_use_id"]: event.data() for event in of_type(events, "agent.mcp_tool_result")}
    assert results[uses[0].id]["content"] == [{"type": "text", "text": "#1"}]
    assert (
        results[uses[1].id]["is_error"] is True and "no arithmetic today" in results[uses[1].id]["content"][0]["text"]
    )
    assert [made.name for made in mcp.calls] == ["create_issue"]
    assert "no arithmetic today" in str(model.requests[1].body)


class Revoked:
    """The session's credential works for the listing, then is revoked (refused from then on)."""

    def __init__(self, url: str):
        self.url, self.asked = url, 0

    async def bearer_for(self, workspace_id: str, vault_ids: Sequence[str], server_url: str) -> str | None:
        self.asked += 1
        return TOKEN if self.asked == 1 else "revoked-" + TOKEN[::-1]

    async def refused(self, workspace_id: str, vault_ids: Sequence[str], server_url: str, token: str) -> str | None:
        return None


async def test_a_refused_credential_is_a_session_error_and_the_turn_goes_on(store: SessionStore) -> None:
    script = {
        "replies": [reply(tool_use("mcp__tracker__echo", {"text": "hi"})), reply(text("The tracker refused me."))]
    }
    async with ScriptedMcpServer(TOKEN) as mcp, ScriptedModelServer(script) as model:
        source = McpTools(store.db, LOOPBACK, Revoked(mcp.url), timeout=30)
        async with running(store, settings_for(model.url), mcp=source):
            session_id = await create_session(
                store, mcp_agent({"tracker": mcp.url}, toolset("tracker", "always_allow"))
            )
            await send(store, session_id, user_message("Echo hi"))
            events = await wait_idle(store, session_id)
    assert types(events) == [
        "user.message",
        "session.status_running",
        "span.model_request_start",
        "agent.mcp_tool_use",
        "span.model_request_end",
        "session.error",
        "agent.mcp_tool_result",
        "span.model_request_start",
        "agent.message",
        "span.model_request_end",
        "session.status_idle",
    ]
    error = of_type(events, "session.error")[0].data()["error"]
    assert error["type"] == "mcp_authentication_failed_error" and error["mcp_server_name"] == "tracker"
    assert error["retry_status"] == {"type": "retrying"} and "refused the credential" in error["message"]
    result = of_type(events, "agent.mcp_tool_result")[0].data()
    assert result["is_error"] is True and "refused the credential" in result["content"][0]["text"]
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"} and mcp.calls == []
    assert TOKEN not in str([event.data() for event in events])


async def test_servers_that_cannot_be_listed_are_reported_once_per_turn(store: SessionStore) -> None:
    script = {"replies": [reply(text("Working without them."))], "repeat_last": True}
    offline = f"http://127.0.0.1:{free_port()}/mcp"
    async with ScriptedMcpServer(TOKEN) as mcp, ScriptedModelServer(script) as model:
        async with running(store, settings_for(model.url), mcp=client(store, mcp, token="wrong-" + TOKEN)):
            agent = mcp_agent({"tracker": mcp.url, "offline": offline}, toolset("tracker"), toolset("offline"))
            session_id = await create_session(store, agent)
            await send(store, session_id, user_message("Hello"))
            first = await wait_idle(store, session_id)
            await send(store, session_id, user_message("Again"))
            events = await wait_idle(store, session_id, 2)
    errors = [event.data()["error"] for event in of_type(first, "session.error")]
    assert [(e["type"], e["mcp_server_name"]) for e in errors] == [
        ("mcp_authentication_failed_error", "tracker"),
        ("mcp_connection_failed_error", "offline"),
    ]
    assert types(first)[:5] == [
        "user.message",
        "session.status_running",
        "session.error",
        "session.error",
        "span.model_request_start",
    ]
    assert len(of_type(events, "session.error")) == 4  # the next turn tried again
    assert offered(model.requests[0].body) == [] and first[-1].data()["stop_reason"] == {"type": "end_turn"}


async def test_tools_of_the_same_name_on_two_servers_go_to_their_own_server(store: SessionStore) -> None:
    script = {"replies": [reply(tool_use("mcp__beta__echo", {"text": "b"})), reply(text("Beta echoed."))]}
    async with (
        ScriptedMcpServer(TOKEN) as alpha,
        ScriptedMcpServer(TOKEN) as beta,
        ScriptedModelServer(script) as model,
    ):
        agent = mcp_agent(
            {"alpha": alpha.url, "beta": beta.url}, toolset("alpha", "always_allow"), toolset("beta", "always_allow")
        )
        async with running(store, settings_for(model.url), mcp=client(store, alpha, beta)):
            session_id = await create_session(store, agent)
            await send(store, session_id, user_message("Echo on beta"))
            events = await wait_idle(store, session_id)
    names = offered(model.requests[0].body)
    assert "mcp__alpha__echo" in names and "mcp__beta__echo" in names and len(names) == len(set(names)) == 14
    assert of_type(events, "agent.mcp_tool_use")[0].data()["mcp_server_name"] == "beta"
    assert alpha.calls == [] and [made.arguments for made in beta.calls] == [{"text": "b"}]


async def test_an_interrupt_stops_a_running_mcp_call(store: SessionStore) -> None:
    script = {"replies": [reply(tool_use("mcp__tracker__hold", {"key": "k"})), reply(text("Stopped."))]}
    async with ScriptedMcpServer(TOKEN) as mcp, ScriptedModelServer(script) as model:
        async with running(store, settings_for(model.url), mcp=client(store, mcp)):
            session_id = await create_session(
                store, mcp_agent({"tracker": mcp.url}, toolset("tracker", "always_allow"))
            )
            await send(store, session_id, user_message("Hold"))
            await eventually(lambda: bool(mcp.calls))  # the call reached the server and is held there
            await send(store, session_id, NewEvent("user.interrupt", {}, queued=True))
            events = await wait_idle(store, session_id)
            mcp.release("k")
    result = of_type(events, "agent.mcp_tool_result")[0].data()
    assert result["is_error"] is True and "interrupted" in result["content"][0]["text"]
    assert events[-1].data()["stop_reason"] == {"type": "end_turn"}


class EchoOnly:
    """A judge that lets MCP ``echo`` calls run and denies every other call (and records what it saw)."""

    def __init__(self) -> None:
        self.seen: list[JudgedCall] = []

    async def judge(self, call: JudgedCall, context: JudgeContext) -> Verdict:
        self.seen.append(call)
        return Verdict.allow("echo") if call.name == "echo" else Verdict.deny("not echo")


async def test_auto_asks_the_sessions_judge_about_mcp_calls(store: SessionStore) -> None:
    first = reply(
        tool_use("mcp__tracker__echo", {"text": "ok"}), tool_use("mcp__tracker__create_issue", {"title": "x"})
    )
    script = {"replies": [first, reply(text("Echoed; the issue was refused."))]}
    judge = EchoOnly()
    async with ScriptedMcpServer(TOKEN) as mcp, ScriptedModelServer(script) as model:
        async with running(store, settings_for(model.url), mcp=client(store, mcp), judge=judge):
            session_id = await create_session(store, mcp_agent({"tracker": mcp.url}, toolset("tracker", "auto")))
            await send(store, session_id, user_message("Echo and file"))
            events = await wait_idle(store, session_id)
    assert [(call.name, call.kind, dict(call.input)) for call in judge.seen] == [
        ("echo", "mcp", {"text": "ok"}),
        ("create_issue", "mcp", {"title": "x"}),
    ]
    uses = of_type(events, "agent.mcp_tool_use")
    assert [use.data()["evaluation"] for use in uses] == [
        {"type": "auto", "evaluated_permission": {"type": "allow"}},
        {"type": "auto", "evaluated_permission": {"type": "deny", "reason_code": "high_risk"}},
    ]
    results = {event.data()["mcp_tool_use_id"]: event.data() for event in of_type(events, "agent.mcp_tool_result")}
    assert results[uses[0].id]["content"] == [{"type": "text", "text": "echo: ok"}]
    assert results[uses[1].id]["content"] == [
        {"type": "text", "text": "Permission to use create_issue has been denied."}
    ]
    assert [made.name for made in mcp.calls] == ["echo"] and events[-1].data()["stop_reason"] == {"type": "end_turn"}

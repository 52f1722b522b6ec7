"""MCP toolsets in a plain ``corral serve`` (API and workers, the production composition root), through the SDK.

An MCP server that needs no token works end to end; one that needs a token gets it from the session's vault
(a ``static_bearer`` credential matched by the server's URL), and without one fails with
``mcp_authentication_failed_error`` without stopping the session. The token is in no response.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from corral.testing import ScriptedMcpServer, ScriptedModelServer, reply, text, tool_use
from tests.live import LiveServer, live_server
from tests.mcp.helpers import RecordingClient, drain, mcp_agent, message, of_type, recording, toolset

TOKEN = "needed-token-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, ScriptedModelServer, ScriptedMcpServer, ScriptedMcpServer]]:
    tmp = tmp_path_factory.mktemp("mcp-serve")
    with ScriptedMcpServer(None) as open_server, ScriptedMcpServer(TOKEN) as locked:
        with ScriptedModelServer({"replies": []}) as model:
            env = {
                "ANTHROPIC_BASE_URL": model.url,
                "CORRAL_MODEL_RETRY_BASE": "0.01",
                "CORRAL_EGRESS_ALLOW_PRIVATE": "127.0.0.1",  # the MCP doubles listen on loopback
            }
            with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as live:
                yield live, model, open_server, locked


@pytest.fixture
def client(
    servers: tuple[LiveServer, ScriptedModelServer, ScriptedMcpServer, ScriptedMcpServer],
) -> Iterator[RecordingClient]:
    with recording(servers[0]) as made:
        yield made


def test_an_open_mcp_server_works_end_to_end(
    client: RecordingClient, servers: tuple[LiveServer, ScriptedModelServer, ScriptedMcpServer, ScriptedMcpServer]
) -> None:
    _, model, open_server, _ = servers
    model.set_script({"replies": [reply(tool_use("mcp__docs__echo", {"text": "served"})), reply(text("Echoed."))]})
    agent = mcp_agent(client.sdk, "docs-reader", {"docs": open_server.url}, toolset("docs", "always_allow"))
    environment = client.sdk.beta.environments.create(name="mcp-serve-open")
    session = client.sdk.beta.sessions.create(agent=agent.id, environment_id=environment.id)
    events = drain(client, session.id, message("Echo served"))
    result = of_type(events, "agent.mcp_tool_result")[0]
    assert result.is_error is False and result.content[0].text == "echo: served"
    assert [call.name for call in open_server.calls] == ["echo"] and events[-1].stop_reason.type == "end_turn"


def test_a_server_that_needs_a_token_fails_without_stopping_the_session(
    client: RecordingClient, servers: tuple[LiveServer, ScriptedModelServer, ScriptedMcpServer, ScriptedMcpServer]
) -> None:
    _, model, _, locked = servers
    model.set_script({"replies": [reply(text("No access to the tracker."))]})
    agent = mcp_agent(client.sdk, "tracker-user", {"tracker": locked.url}, toolset("tracker"))
    environment = client.sdk.beta.environments.create(name="mcp-serve-locked")
    session = client.sdk.beta.sessions.create(agent=agent.id, environment_id=environment.id)
    events = drain(client, session.id, message("Open an issue"))
    error = of_type(events, "session.error")[0].error
    assert error.type == "mcp_authentication_failed_error" and error.mcp_server_name == "tracker"
    assert "no vault of this session holds one" in error.message
    assert events[-1].stop_reason.type == "end_turn" and locked.calls == []
    assert client.sdk.beta.sessions.retrieve(session.id).status == "idle"


def test_the_token_comes_from_the_sessions_vault(
    client: RecordingClient, servers: tuple[LiveServer, ScriptedModelServer, ScriptedMcpServer, ScriptedMcpServer]
) -> None:
    _, model, _, locked = servers
    model.set_script({"replies": [reply(tool_use("mcp__tracker__add", {"a": 1, "b": 2})), reply(text("3."))]})
    vault = client.sdk.beta.vaults.create(display_name="tracker access")
    auth: Any = {"type": "static_bearer", "mcp_server_url": locked.url + "/", "token": TOKEN}  # a trailing slash
    client.sdk.beta.vaults.credentials.create(vault.id, auth=auth)
    agent = mcp_agent(client.sdk, "vaulted", {"tracker": locked.url}, toolset("tracker", "always_allow"))
    environment = client.sdk.beta.environments.create(name="mcp-serve-vault")
    session = client.sdk.beta.sessions.create(agent=agent.id, environment_id=environment.id, vault_ids=[vault.id])
    events = drain(client, session.id, message("Add one and two"))
    assert of_type(events, "session.error") == []
    result = of_type(events, "agent.mcp_tool_result")[0]
    assert result.is_error is False and result.content[0].text == "3"
    assert [call.name for call in locked.calls] == ["add"]
    assert not [body for body in client.bodies if TOKEN in body]

"""MCP toolsets through the official SDK: a live ``corral serve`` (API only) and an MCP test worker on its database, a
scripted model that calls the MCP tools, and ``ScriptedMcpServer`` doubles that want a bearer token.

The worker's tokens stand in for the session's vaults (``tests.mcp.worker``): ``tracker`` gets its token,
``locked`` a wrong one. What must hold: the tools are listed and offered to the model; an ``always_allow`` call runs
and its result reaches the model; an ``always_ask`` call waits for ``user.tool_confirmation``; a refused token is a
``session.error`` (``mcp_authentication_failed_error``) and the session goes on; no token is ever in an event, an
API response or a log line.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from corral.testing import ScriptedMcpServer, ScriptedModelServer, reply, text, tool_use
from tests.live import LiveServer, live_server
from tests.mcp.helpers import RecordingClient, Worker, drain, mcp_agent, message, of_type, recording, toolset, worker

TOKEN = "tracker-token-" + secrets.token_hex(16)
LOCKED = "locked-token-" + secrets.token_hex(16)
WRONG = "wrong-token-" + secrets.token_hex(16)
SECRETS = (TOKEN, LOCKED, WRONG)


@dataclass
class World:
    live: LiveServer
    model: ScriptedModelServer
    tracker: ScriptedMcpServer
    locked: ScriptedMcpServer
    worker: Worker
    logs: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("mcp-sdk")
    with ScriptedMcpServer(TOKEN) as tracker, ScriptedMcpServer(LOCKED) as locked:
        with ScriptedModelServer({"replies": []}) as model:
            env = {
                "CORRAL_WORKERS": "0",
                "ANTHROPIC_BASE_URL": model.url,
                "CORRAL_MODEL_RETRY_BASE": "0.01",
                "CORRAL_EGRESS_ALLOW_PRIVATE": "127.0.0.1",  # the MCP doubles listen on loopback
            }
            with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as live:
                tokens = {tracker.url: TOKEN, locked.url: WRONG}
                with worker(live, tokens, tmp / "worker.log") as running:
                    yield World(live, model, tracker, locked, running, tmp)


@pytest.fixture
def client(world: World) -> Iterator[RecordingClient]:
    with recording(world.live) as made:
        yield made
    leaked = [secret for secret in SECRETS if any(secret in body for body in made.bodies)]
    assert not leaked, "a token reached an API response or a streamed event"


def new_session(client: RecordingClient, world: World, *toolsets: dict[str, object], name: str = "mcp") -> str:
    servers = {"tracker": world.tracker.url, "locked": world.locked.url}
    used = {str(entry["mcp_server_name"]): servers[str(entry["mcp_server_name"])] for entry in toolsets}
    agent = mcp_agent(client.sdk, name, used, *toolsets)
    environment = client.sdk.beta.environments.create(name=f"mcp-{secrets.token_hex(4)}")
    return client.sdk.beta.sessions.create(agent=agent.id, environment_id=environment.id).id


def test_the_tools_are_offered_and_an_allowed_call_reaches_the_model(client: RecordingClient, world: World) -> None:
    world.model.set_script(
        {"replies": [reply(tool_use("mcp__tracker__create_issue", {"title": "Broken build"})), reply(text("Filed."))]}
    )
    session_id = new_session(client, world, toolset("tracker", "always_allow"))
    snapshot = client.sdk.beta.sessions.retrieve(session_id).agent
    assert [server.name for server in snapshot.mcp_servers] == ["tracker"]
    events = drain(client, session_id, message("File an issue about the build"))
    use, result = of_type(events, "agent.mcp_tool_use")[0], of_type(events, "agent.mcp_tool_result")[0]
    assert (use.mcp_server_name, use.name, use.input) == ("tracker", "create_issue", {"title": "Broken build"})
    assert use.evaluated_permission == "allow" and use.evaluation.type == "always_allow"
    assert result.mcp_tool_use_id == use.id and result.is_error is False
    assert result.content[0].type == "text" and result.content[0].text.startswith("#")
    assert events[-1].stop_reason.type == "end_turn"
    offered = [tool["name"] for tool in world.model.requests[-2].body["tools"]]
    assert "mcp__tracker__create_issue" in offered and "mcp__tracker__echo" in offered
    assert result.content[0].text in str(world.model.requests[-1].body["messages"])
    listed = client.sdk.beta.sessions.events.list(session_id)
    assert [event.type for event in listed].count("agent.mcp_tool_result") == 1


def test_always_ask_waits_for_a_confirmation(client: RecordingClient, world: World) -> None:
    world.model.set_script({"replies": [reply(tool_use("mcp__tracker__add", {"a": 20, "b": 22})), reply(text("42."))]})
    session_id = new_session(client, world, toolset("tracker"))  # MCP toolsets ask by default
    calls_before = len(world.tracker.calls)
    blocked = drain(client, session_id, message("Add 20 and 22"))
    use = of_type(blocked, "agent.mcp_tool_use")[0]
    assert use.evaluated_permission == "ask" and use.evaluation.type == "always_ask"
    assert blocked[-1].stop_reason.type == "requires_action" and blocked[-1].stop_reason.event_ids == [use.id]
    assert client.sdk.beta.sessions.retrieve(session_id).status == "idle"
    assert len(world.tracker.calls) == calls_before  # nothing ran before the confirmation
    events = drain(client, session_id, [{"type": "user.tool_confirmation", "tool_use_id": use.id, "result": "allow"}])
    result = of_type(events, "agent.mcp_tool_result")[0]
    assert result.mcp_tool_use_id == use.id and result.content[0].text == "42"
    assert events[-1].stop_reason.type == "end_turn"
    assert [call.name for call in world.tracker.calls[calls_before:]] == ["add"]


def test_a_refused_token_is_an_authentication_error_and_the_session_goes_on(
    client: RecordingClient, world: World
) -> None:
    world.model.set_script({"replies": [reply(text("The locked server refused me; working without it."))]})
    session_id = new_session(client, world, toolset("locked", "always_allow"), toolset("tracker", "always_allow"))
    events = drain(client, session_id, message("Use the locked server"))
    error = of_type(events, "session.error")[0].error
    assert error.type == "mcp_authentication_failed_error" and error.mcp_server_name == "locked"
    assert error.retry_status.type == "retrying" and "refused the credential" in error.message
    assert events[-1].stop_reason.type == "end_turn"
    offered = [tool["name"] for tool in world.model.requests[-1].body["tools"]]
    assert offered and all(name.startswith("mcp__tracker__") for name in offered)  # the others still work
    assert world.locked.calls == [] and world.locked.refused > 0
    again = drain(client, session_id, message("Try once more"))  # the session is not stopped, and tries again
    assert of_type(again, "session.error")[0].error.mcp_server_name == "locked"
    assert again[-1].stop_reason.type == "end_turn"


def test_no_token_reaches_an_event_a_response_or_a_log(client: RecordingClient, world: World) -> None:
    world.model.set_script({"replies": [reply(tool_use("mcp__tracker__echo_headers", {})), reply(text("Seen."))]})
    session_id = new_session(client, world, toolset("tracker", "always_allow"))
    events = drain(client, session_id, message("Show me the headers you send"))
    result = of_type(events, "agent.mcp_tool_result")[0]
    assert "Bearer [redacted]" in result.content[0].text  # the server echoed the header; corral swept it
    listed = client.sdk.beta.sessions.events.list(session_id)
    assert [event.type for event in listed].count("agent.mcp_tool_use") == 1
    for log in (world.live.log_path, world.worker.log):
        text_of_log = log.read_text(errors="replace")
        assert not [secret for secret in SECRETS if secret in text_of_log], f"a token is in {log.name}"
    # the model saw the redacted result too (it is what the event log holds)
    assert TOKEN not in str(world.model.requests[-1].body)

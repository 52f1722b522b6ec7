"""kill -9 of the worker in the middle of an MCP call, on SQLite and on PostgreSQL: the call is never made twice.

An API-only ``corral serve`` and MCP test workers (``tests.mcp.worker``) on one database. The first worker makes an
MCP call that the server holds; the test kills the worker (SIGKILL) once the server has the call, then starts
another worker. What must hold: the new worker takes the session over (``session.status_rescheduled``), finds the
call started and unfinished in the journal (``mcp_calls``), answers it with an ``interrupted`` error instead of
making it again, and finishes the turn; the server saw the call once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from corral.testing import ScriptedMcpServer, ScriptedModelServer, reply, text, tool_use
from tests.conftest import ENGINES, database_url
from tests.live import LiveServer, live_server
from tests.mcp.helpers import Worker, mcp_agent, message, recording, toolset, until, worker

TOKEN = "crash-token-" + secrets.token_hex(16)
SCRIPT = {"replies": [reply(tool_use("mcp__tracker__hold", {"key": "crash"})), reply(text("Moving on."))]}


@dataclass
class World:
    live: LiveServer
    tracker: ScriptedMcpServer
    logs: Path


@pytest.fixture(scope="module", params=ENGINES)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"mcp-crash-{request.param}")
    db_url = anyio.run(database_url, request.param, tmp)
    with ScriptedMcpServer(TOKEN) as tracker, ScriptedModelServer(SCRIPT) as model:
        env = {
            "CORRAL_WORKERS": "0",
            "ANTHROPIC_BASE_URL": model.url,
            "CORRAL_EGRESS_ALLOW_PRIVATE": "127.0.0.1",  # the MCP doubles listen on loopback
            "CORRAL_LEASE_TTL": "2",
            "CORRAL_MODEL_RETRY_BASE": "0.01",
        }
        with live_server(db_url, data_dir=tmp / "data", env=env) as live:
            yield World(live, tracker, tmp)


def test_a_worker_killed_mid_call_never_makes_it_twice(world: World) -> None:
    tokens = {world.tracker.url: TOKEN}
    with recording(world.live) as client:
        agent = mcp_agent(client.sdk, "holder", {"tracker": world.tracker.url}, toolset("tracker", "always_allow"))
        environment = client.sdk.beta.environments.create(name="mcp-crash")
        session = client.sdk.beta.sessions.create(agent=agent.id, environment_id=environment.id)
        first = Worker(world.live, tokens, world.logs / "first.log")
        try:
            hold: Any = message("Hold on")
            client.sdk.beta.sessions.events.send(session.id, events=hold)
            until(lambda: any(call.name == "hold" for call in world.tracker.calls))
        finally:
            first.kill()  # the call is in flight at the server, its journal row has no end
        with worker(world.live, tokens, world.logs / "second.log"):

            def finished() -> bool:
                return client.sdk.beta.sessions.retrieve(session.id).status == "idle"

            until(finished)
        world.tracker.release("crash")
        events: list[Any] = list(client.sdk.beta.sessions.events.list(session.id, limit=100))
    kinds = [event.type for event in events]
    assert "session.status_rescheduled" in kinds
    results = [event for event in events if event.type == "agent.mcp_tool_result"]
    assert len(results) == 1 and results[0].is_error is True
    assert "interrupted" in results[0].content[0].text and "not made again" in results[0].content[0].text
    assert kinds[-1] == "session.status_idle" and events[-1].stop_reason.type == "end_turn"
    assert [call.name for call in world.tracker.calls] == ["hold"]  # made once, never again
